/** Troupe: a distributed, stateful stream processor for TypeScript, built on comedy actors. */
export { StreamExecutionEnvironment, type EnvironmentOptions, type ExecutionResult } from './api/datastream/environment.js';
export { DataStream, KeyedStream, DataStreamSink } from './api/datastream/data-stream.js';
export type * from './api/datastream/functions.js';
export type { Source, SourceReader, SourceContext, PollResult } from './api/datastream/source.js';
export type { Sink, SinkWriter, SinkContext } from './api/datastream/sink.js';
export { CollectionSource } from './api/datastream/sources/collection-source.js';
export { SequenceSource, type SequenceOptions } from './api/datastream/sources/sequence-source.js';
export { FileSource, type FileSplit } from './api/datastream/sources/file-source.js';
export { PrintSink } from './api/datastream/sinks/print-sink.js';
export { DiscardingSink } from './api/datastream/sinks/discarding-sink.js';
export { CollectSink } from './api/datastream/sinks/collect-sink.js';
export { FileSink, readCommittedJsonLines, type FileSinkOptions } from './api/datastream/sinks/file-sink.js';
export { SqliteSink, type SqliteSinkOptions } from './api/datastream/sinks/sqlite-sink.js';
export {
  TwoPhaseCommitSink,
  TwoPhaseCommitSinkWriter,
  TransactionalWriter,
  type Leftover,
  type PendingTransactionState,
} from './api/datastream/sinks/two-phase-commit-sink.js';
export { type ValueState, type ValueStateDescriptor, valueStateDescriptor } from './state/value-state.js';
export { type ListState, type ListStateDescriptor, listStateDescriptor } from './state/list-state.js';
export { type MapState, type MapStateDescriptor, mapStateDescriptor } from './state/map-state.js';
export { type ReducingState, type ReducingStateDescriptor, reducingStateDescriptor } from './state/reducing-state.js';
export { type AggregatingState, type AggregatingStateDescriptor, aggregatingStateDescriptor } from './state/aggregating-state.js';
export type { StateTtlConfig, StateDescriptorOptions, TtlValue } from './state/ttl.js';
export type { StateDescriptorBase, StateKind } from './state/state-descriptor.js';
export {
  HeapKeyedStateBackend,
  KEYED_STATE_SNAPSHOT_FORMAT,
  type HeapKeyedStateBackendOptions,
  type KeyedStateInfo,
  type KeyedStateEntry,
  type KeyedStateSnapshot,
  type KeyGroupSnapshot,
} from './state/heap/heap-keyed-state-backend.js';
export {
  OperatorStateBackend,
  redistributeOperatorState,
  redistributeOperatorStateSnapshots,
  type OperatorListState,
  type OperatorStateSnapshot,
} from './state/operator-state.js';
export { keyGroupRange, keyGroupFor, DEFAULT_MAX_PARALLELISM, type KeyGroupRange } from './state/key-groups.js';
export { type Clock, ManualClock, systemClock } from './core/clock.js';
export { MiniCluster, type MiniClusterOptions } from './actors/mini-cluster.js';
export type { JobResult, JobStatus, TaskMetrics, OperatorMetrics } from './actors/protocol/job-status.js';
export { TroupeError, ERROR_CATALOG, type ErrorCode, type ErrorRecord } from './core/errors.js';
export * as nexmark from './api/nexmark/index.js';
export { NexmarkSource } from './api/nexmark/nexmark-source.js';
export { ClusterClient, prepareJobModule, type SubmitOptions, type PreparedJob } from './api/cluster-client.js';
export { RestClient } from './api/rest/rest-client.js';
export { startJobManager, type RunningJobManager } from './actors/cluster/job-manager.js';
export { Agent, type AgentOptions } from './actors/agent/agent.js';
export { loadClusterConfig, parseClusterConfig, type ClusterConfig } from './cluster-config/cluster-config.js';
