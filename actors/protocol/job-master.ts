/** Task / ResourceManager / client → JobMaster. */
import type { ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId, TaskExecutorId } from '../../core/ids.js';
import type { Handle } from '../runtime/handle.js';
import type { ExecutionState, JobStatusReport, TaskMetrics } from './job-status.js';
import type { KeyedStateHandle } from '../../state/snapshot/keyed-snapshot.js';
import type { CheckpointRecord } from '../../state/metadata-store.js';

/** What one subtask acknowledges for a checkpoint: its operators' state, by operator id. */
export interface TaskStateSnapshot {
  readonly vertex: string;
  readonly subtask: number;
  readonly operators: Readonly<Record<string, OperatorSubtaskState>>;
}

export interface OperatorSubtaskState {
  readonly keyed?: KeyedStateHandle;
  readonly operatorState?: readonly unknown[];
}

export type JobMasterTell =
  | { readonly type: 'schedule' }
  | {
      readonly type: 'task-state';
      readonly attemptId: ExecutionAttemptId;
      readonly state: ExecutionState;
      readonly error?: ErrorRecord;
      readonly metrics?: TaskMetrics;
    }
  | { readonly type: 'collect'; readonly operatorId: string; readonly records: unknown[] }
  | { readonly type: 'task-executor-lost'; readonly taskExecutor: TaskExecutorId; readonly error: ErrorRecord }
  | { readonly type: 'cancel-timeout' }
  | { readonly type: 'acknowledge-checkpoint'; readonly checkpointId: number; readonly attemptId: ExecutionAttemptId; readonly state: TaskStateSnapshot }
  | { readonly type: 'decline-checkpoint'; readonly checkpointId: number; readonly attemptId: ExecutionAttemptId; readonly reason: ErrorRecord }
  | { readonly type: 'checkpoint-tick' }
  | { readonly type: 'restart' };

export type JobMasterAsk =
  | { readonly type: 'status' }
  | { readonly type: 'cancel' }
  | { readonly type: 'metrics' }
  | { readonly type: 'collected'; readonly from: number }
  /** Resolves with the savepoint's directory once it completed; `stop` cancels the job after it. */
  | { readonly type: 'trigger-savepoint'; readonly dir?: string; readonly stop: boolean }
  | { readonly type: 'checkpoints' };
export interface JobMasterReplies {
  status: JobStatusReport;
  cancel: true;
  metrics: TaskMetrics[];
  collected: { records: unknown[]; next: number };
  'trigger-savepoint': string;
  checkpoints: CheckpointsReport;
}

export interface CheckpointsReport {
  readonly history: readonly CheckpointRecord[];
  readonly pending: ReadonlyArray<{ readonly checkpointId: number; readonly kind: 'checkpoint' | 'savepoint' }>;
  readonly retained: readonly number[];
  readonly attempt: number;
}
export type JobMasterHandle = Handle<JobMasterTell, JobMasterAsk, JobMasterReplies>;
