/** JobMaster / ResourceManager → TaskExecutor. */
import type { ExecutionAttemptId, JobId } from '../../core/ids.js';
import type { ActorAddress, Handle } from '../runtime/handle.js';
import type { TaskDeploymentDescriptor } from './deployment.js';
import type { TaskMetrics } from './job-status.js';

export type TaskExecutorTell =
  | { readonly type: 'register' }
  | { readonly type: 'start-task'; readonly attemptId: ExecutionAttemptId }
  | { readonly type: 'cancel-task'; readonly attemptId: ExecutionAttemptId }
  | { readonly type: 'trigger-checkpoint'; readonly attemptId: ExecutionAttemptId; readonly checkpointId: number; readonly timestamp: number; readonly savepoint?: string }
  | { readonly type: 'notify-checkpoint'; readonly attempts: readonly ExecutionAttemptId[]; readonly checkpointId: number; readonly outcome: 'complete' | 'aborted' }
  | { readonly type: 'heartbeat-request'; readonly sentAt: number }
  | { readonly type: 'heartbeat-check' }
  | { readonly type: 'shutdown' };

export type TaskExecutorAsk =
  | { readonly type: 'submit-task'; readonly tdd: TaskDeploymentDescriptor; readonly jobMaster: ActorAddress }
  /** `restart`: only the tasks go; the job's user code stays for the next attempt. */
  | { readonly type: 'release-job'; readonly jobId: JobId; readonly restart?: boolean }
  | { readonly type: 'task-metrics'; readonly jobId: JobId };

export interface TaskExecutorReplies {
  'submit-task': true;
  'release-job': true;
  'task-metrics': TaskMetrics[];
}
export type TaskExecutorHandle = Handle<TaskExecutorTell, TaskExecutorAsk, TaskExecutorReplies>;
