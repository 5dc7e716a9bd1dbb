/** Job and task states, metrics and results as they travel between actors and to clients. */
import type { ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId, JobId } from '../../core/ids.js';

/** `restarting`: the tasks of a failed attempt stopped; the job waits out the restart delay. */
export type JobStatus = 'created' | 'running' | 'failing' | 'cancelling' | 'restarting' | 'finished' | 'failed' | 'cancelled';
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['finished', 'failed', 'cancelled'];

export type ExecutionState = 'created' | 'deploying' | 'running' | 'finished' | 'canceling' | 'canceled' | 'failed';

export interface OperatorCounts {
  readonly id: string;
  readonly recordsIn: number;
  readonly recordsOut: number;
}

export interface TaskMetrics {
  readonly attemptId: ExecutionAttemptId;
  readonly vertex: string;
  readonly subtask: number;
  readonly state: ExecutionState;
  readonly recordsIn: number;
  readonly recordsOut: number;
  readonly busyMs: number;
  readonly backpressuredMs: number;
  readonly idleMs: number;
  readonly wallMs: number;
  readonly busyRatio: number;
  readonly backpressuredRatio: number;
  readonly idleRatio: number;
  /** Buffers held by this task's partitions (queued or filling) and gates (received, unconsumed). */
  readonly buffersInFlight: number;
  readonly operators: readonly OperatorCounts[];
}

export interface OperatorMetrics {
  readonly id: string;
  readonly name: string;
  readonly vertex: string;
  readonly parallelism: number;
  readonly recordsIn: number;
  readonly recordsOut: number;
}

export interface JobResult {
  readonly jobId: JobId;
  readonly name: string;
  readonly status: 'finished' | 'failed' | 'cancelled';
  readonly startTime: number;
  readonly endTime: number;
  readonly durationMs: number;
  readonly operators: readonly OperatorMetrics[];
  readonly tasks: readonly TaskMetrics[];
  readonly error?: ErrorRecord;
  /** Records of CollectSinks, by sink operator id. */
  readonly collected: Readonly<Record<string, unknown[]>>;
}

export interface JobStatusReport {
  readonly jobId: JobId;
  readonly name: string;
  readonly status: JobStatus;
  readonly startTime: number;
  readonly tasks: readonly { readonly attemptId: ExecutionAttemptId; readonly state: ExecutionState }[];
}
