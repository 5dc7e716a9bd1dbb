/** Task / ResourceManager / client → JobMaster. */
import type { ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId, TaskExecutorId } from '../../core/ids.js';
import type { Handle } from '../runtime/handle.js';
import type { ExecutionState, JobStatusReport, TaskMetrics } from './job-status.js';

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
  | { readonly type: 'cancel-timeout' };

export type JobMasterAsk =
  | { readonly type: 'status' }
  | { readonly type: 'cancel' }
  | { readonly type: 'metrics' }
  | { readonly type: 'collected'; readonly from: number };
export interface JobMasterReplies {
  status: JobStatusReport;
  cancel: true;
  metrics: TaskMetrics[];
  collected: { records: unknown[]; next: number };
}
export type JobMasterHandle = Handle<JobMasterTell, JobMasterAsk, JobMasterReplies>;
