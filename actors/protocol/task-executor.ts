/** JobMaster → TaskExecutor. */
import type { ExecutionAttemptId, JobId } from '../../core/ids.js';
import type { ActorHandle } from '../runtime/typed-actor.js';
import type { TaskDeploymentDescriptor } from './deployment.js';
import type { JobMasterHandle } from './job-master.js';
import type { TaskMetrics } from './job-status.js';

export type TaskExecutorTell =
  | { readonly type: 'start-task'; readonly attemptId: ExecutionAttemptId }
  | { readonly type: 'cancel-task'; readonly attemptId: ExecutionAttemptId };

export type TaskExecutorAsk =
  | { readonly type: 'submit-task'; readonly tdd: TaskDeploymentDescriptor; readonly jobMaster: JobMasterHandle }
  | { readonly type: 'release-job'; readonly jobId: JobId }
  | { readonly type: 'task-metrics'; readonly jobId: JobId };

export interface TaskExecutorReplies {
  'submit-task': true;
  'release-job': true;
  'task-metrics': TaskMetrics[];
}
export type TaskExecutorHandle = ActorHandle<TaskExecutorTell, TaskExecutorAsk, TaskExecutorReplies>;
