/** TaskExecutor / JobMaster → Task, and the data plane between tasks. */
import type { ActorHandle } from '../runtime/typed-actor.js';
import type { DataPlaneMessage } from './data-plane.js';
import type { TaskMetrics } from './job-status.js';

export type TaskTell = DataPlaneMessage | { readonly type: 'start' } | { readonly type: 'cancel' };
export type TaskAsk = { readonly type: 'open' } | { readonly type: 'metrics' };
export interface TaskReplies {
  open: true;
  metrics: TaskMetrics;
}
export type TaskHandle = ActorHandle<TaskTell, TaskAsk, TaskReplies>;
