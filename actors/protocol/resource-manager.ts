/** JobMaster / TaskExecutor → ResourceManager. */
import type { AllocationId, JobId, TaskExecutorId } from '../../core/ids.js';
import type { ActorAddress, Handle } from '../runtime/handle.js';

export interface SlotAllocation {
  readonly allocationId: AllocationId;
  readonly taskExecutor: TaskExecutorId;
  readonly slotIndex: number;
  readonly address: ActorAddress;
}

export type ResourceManagerTell =
  | { readonly type: 'launch' }
  | { readonly type: 'register-task-executor'; readonly id: TaskExecutorId; readonly slots: number; readonly address: ActorAddress; readonly pid?: number }
  | { readonly type: 'heartbeat'; readonly id: TaskExecutorId }
  | { readonly type: 'heartbeat-tick' }
  | { readonly type: 'task-executor-exited'; readonly id: TaskExecutorId; readonly reason: string }
  /** Start a lost TaskExecutor again (Flink's active ResourceManager requests a new worker). */
  | { readonly type: 'relaunch'; readonly id: TaskExecutorId };

export type ResourceManagerAsk =
  | { readonly type: 'request-slots'; readonly jobId: JobId; readonly count: number; readonly jobMaster: ActorAddress }
  | { readonly type: 'free-slots'; readonly jobId: JobId }
  | { readonly type: 'overview' }
  | { readonly type: 'shutdown' };

export interface TaskExecutorInfo {
  readonly id: TaskExecutorId;
  readonly endpoint: string;
  readonly slots: number;
  readonly pid?: number;
}

export interface ClusterOverview {
  readonly taskExecutors: number;
  readonly slotsTotal: number;
  readonly slotsFree: number;
  /** TaskExecutors the configuration asks for (registered or not). */
  readonly taskExecutorsExpected: number;
  readonly executors: readonly TaskExecutorInfo[];
}

export interface ResourceManagerReplies {
  'request-slots': SlotAllocation[];
  'free-slots': number;
  overview: ClusterOverview;
  shutdown: true;
}
export type ResourceManagerHandle = Handle<ResourceManagerTell, ResourceManagerAsk, ResourceManagerReplies>;
