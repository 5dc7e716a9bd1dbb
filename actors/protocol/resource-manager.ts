/** JobMaster / TaskExecutor → ResourceManager. */
import type { AllocationId, JobId, TaskExecutorId } from '../../core/ids.js';
import type { ActorHandle } from '../runtime/typed-actor.js';
import type { TaskExecutorHandle } from './task-executor.js';

export interface SlotAllocation {
  readonly allocationId: AllocationId;
  readonly taskExecutor: TaskExecutorId;
  readonly slotIndex: number;
  readonly handle: TaskExecutorHandle;
}

export type ResourceManagerTell = {
  readonly type: 'register-task-executor';
  readonly id: TaskExecutorId;
  readonly slots: number;
  readonly handle: TaskExecutorHandle;
};

export type ResourceManagerAsk =
  | { readonly type: 'request-slots'; readonly jobId: JobId; readonly count: number }
  | { readonly type: 'free-slots'; readonly jobId: JobId }
  | { readonly type: 'overview' };

export interface ClusterOverview {
  readonly taskExecutors: number;
  readonly slotsTotal: number;
  readonly slotsFree: number;
}

export interface ResourceManagerReplies {
  'request-slots': SlotAllocation[];
  'free-slots': number;
  overview: ClusterOverview;
}
export type ResourceManagerHandle = ActorHandle<ResourceManagerTell, ResourceManagerAsk, ResourceManagerReplies>;
