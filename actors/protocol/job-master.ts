/** Task / client → JobMaster. */
import type { ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';
import type { ActorHandle } from '../runtime/typed-actor.js';
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
  | { readonly type: 'cancel-timeout' };

export type JobMasterAsk = { readonly type: 'status' } | { readonly type: 'cancel' } | { readonly type: 'metrics' };
export interface JobMasterReplies {
  status: JobStatusReport;
  cancel: true;
  metrics: TaskMetrics[];
}
export type JobMasterHandle = ActorHandle<JobMasterTell, JobMasterAsk, JobMasterReplies>;
