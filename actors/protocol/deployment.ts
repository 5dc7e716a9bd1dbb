/** What a TaskExecutor needs to run one subtask: the task deployment descriptor. Plain JSON. */
import type { ExecutionAttemptId, JobId } from '../../core/ids.js';
import type { JobVertex, NetworkConfig, PartitionerKind } from '../../core/job-graph.js';
import type { OperatorId } from '../../core/ids.js';
import type { CheckpointingMode } from '../network/barrier-aligner.js';
import type { StateBackendConfig } from '../../state/backend.js';
import type { KeyedStateHandle } from '../../state/snapshot/keyed-snapshot.js';

/** How a task takes part in checkpoints. */
export interface TaskCheckpointing {
  readonly mode: CheckpointingMode;
  /** Periodic checkpoints (false: savepoints only; 2PC sinks then commit at end of input). */
  readonly periodic: boolean;
  /** Root directory of the checkpoint storage (every host sees it). */
  readonly storage: string;
  /** The JobMaster's epoch for this attempt of the job: writers of older epochs are fenced. */
  readonly epoch: number;
}

/** One operator's share of a restored checkpoint, for one subtask. */
export interface OperatorRestore {
  /** Keyed state handles of the old subtasks whose key groups overlap this subtask's. */
  readonly keyed?: readonly KeyedStateHandle[];
  /** Operator list state (source splits, sink transactions), redistributed for this subtask. */
  readonly operatorState?: readonly unknown[];
}

/** Where a task restores from: a completed checkpoint or a savepoint. */
export interface TaskRestore {
  readonly checkpointId: number;
  /** Root directory of the store holding the files, and the files' base inside it. */
  readonly root: string;
  readonly base: string;
  /** The job that wrote the files (a savepoint may come from another job). */
  readonly jobId: string;
  /** By operator id (uid). */
  readonly operators: Readonly<Record<string, OperatorRestore>>;
}

export interface InputGateDescriptor {
  readonly edge: string;
  readonly partitioner: PartitionerKind;
  /** The producer attempt behind each input channel. */
  readonly producers: readonly ExecutionAttemptId[];
}

export interface ResultPartitionDescriptor {
  readonly edge: string;
  readonly sourceOperator: OperatorId;
  readonly partitioner: PartitionerKind;
  readonly keyedBy?: OperatorId;
  /** The consumer attempt behind each subpartition. */
  readonly consumers: readonly ExecutionAttemptId[];
}

export interface TaskDeploymentDescriptor {
  readonly jobId: JobId;
  readonly jobName: string;
  readonly attemptId: ExecutionAttemptId;
  readonly vertex: JobVertex;
  readonly subtask: number;
  readonly attempt: number;
  readonly maxParallelism: number;
  readonly network: NetworkConfig;
  readonly inputs: readonly InputGateDescriptor[];
  readonly outputs: readonly ResultPartitionDescriptor[];
  /** Default: heap, full checkpoints. */
  readonly stateBackend?: StateBackendConfig;
  readonly checkpointing?: TaskCheckpointing;
  readonly restore?: TaskRestore;
  /** Endpoint of every producer and consumer attempt this task talks to (filled at deployment). */
  readonly locations: Readonly<Record<string, string>>;
}
