/** TaskExecutor / JobMaster → Task, and the data plane between tasks. */
import type { Handle } from '../runtime/handle.js';
import type { DataPlaneMessage } from './data-plane.js';
import type { TaskMetrics } from './job-status.js';

export type TaskTell =
  | DataPlaneMessage
  | { readonly type: 'start' }
  | { readonly type: 'cancel' }
  /** Sources only: take checkpoint n now (a savepoint into `savepoint` when given). */
  | { readonly type: 'trigger-checkpoint'; readonly checkpointId: number; readonly timestamp: number; readonly savepoint?: string }
  | { readonly type: 'notify-checkpoint'; readonly checkpointId: number; readonly outcome: 'complete' | 'aborted' };
export type TaskAsk = { readonly type: 'open' } | { readonly type: 'metrics' };
export interface TaskReplies {
  open: true;
  metrics: TaskMetrics;
}
export type TaskHandle = Handle<TaskTell, TaskAsk, TaskReplies>;
