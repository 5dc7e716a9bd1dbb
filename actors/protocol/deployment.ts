/** What a TaskExecutor needs to run one subtask: the task deployment descriptor. Plain JSON. */
import type { ExecutionAttemptId, JobId } from '../../core/ids.js';
import type { JobVertex, NetworkConfig, PartitionerKind } from '../../core/job-graph.js';
import type { OperatorId } from '../../core/ids.js';

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
  /** Endpoint of every producer and consumer attempt this task talks to (filled at deployment). */
  readonly locations: Readonly<Record<string, string>>;
}
