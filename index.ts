/** Troupe: a distributed, stateful stream processor for TypeScript, built on comedy actors. */
export { StreamExecutionEnvironment, type EnvironmentOptions, type ExecutionResult } from './api/datastream/environment.js';
export { DataStream, KeyedStream, DataStreamSink } from './api/datastream/data-stream.js';
export type * from './api/datastream/functions.js';
export type { Source, SourceReader, SourceContext, PollResult } from './api/datastream/source.js';
export type { Sink, SinkWriter, SinkContext } from './api/datastream/sink.js';
export { CollectionSource } from './api/datastream/sources/collection-source.js';
export { SequenceSource, type SequenceOptions } from './api/datastream/sources/sequence-source.js';
export { PrintSink } from './api/datastream/sinks/print-sink.js';
export { DiscardingSink } from './api/datastream/sinks/discarding-sink.js';
export { CollectSink } from './api/datastream/sinks/collect-sink.js';
export { type ValueState, type ValueStateDescriptor, valueStateDescriptor } from './state/value-state.js';
export { MiniCluster, type MiniClusterOptions } from './actors/mini-cluster.js';
export type { JobResult, JobStatus, TaskMetrics, OperatorMetrics } from './actors/protocol/job-status.js';
export { TroupeError, ERROR_CATALOG, type ErrorCode, type ErrorRecord } from './core/errors.js';
export * as nexmark from './api/nexmark/index.js';
export { NexmarkSource } from './api/nexmark/nexmark-source.js';
