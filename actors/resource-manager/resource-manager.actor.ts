/** The ResourceManager: spawns and supervises TaskExecutors, hands out slots. */
import type { TaskExecutorId } from '../../core/ids.js';
import type { ResourceManagerAsk, ResourceManagerReplies, ResourceManagerTell } from '../protocol/resource-manager.js';
import type { TaskExecutorHandle } from '../protocol/task-executor.js';
import { ActorShell, type AskHandlers, type TellHandlers } from '../runtime/typed-actor.js';
import type { LocalTaskDirectory } from '../task-executor/local-task-directory.js';
import { TaskExecutorActor, type TaskExecutorParams } from '../task-executor/task-executor.actor.js';
import type { UserCodeResolver } from '../task/user-code.js';
import { SlotManager } from './slot-manager.js';

export interface ResourceManagerParams {
  readonly taskExecutors: readonly { readonly slots: number }[];
  readonly directory: LocalTaskDirectory;
  readonly userCode: UserCodeResolver;
}

export class ResourceManagerActor extends ActorShell<ResourceManagerParams, ResourceManagerTell, ResourceManagerAsk, ResourceManagerReplies> {
  private readonly slots = new SlotManager();
  private readonly executors = new Map<TaskExecutorId, TaskExecutorHandle>();

  protected override async onStart(): Promise<void> {
    let i = 0;
    for (const te of this.params.taskExecutors) {
      const id = `te-${i++}` as TaskExecutorId;
      const params: TaskExecutorParams = { id, slots: te.slots, directory: this.params.directory, userCode: this.params.userCode };
      const handle: TaskExecutorHandle = await this.spawn(TaskExecutorActor, params, `taskexecutor ${id}`);
      this.register(id, te.slots, handle);
    }
  }

  private register(id: TaskExecutorId, slots: number, handle: TaskExecutorHandle): void {
    this.executors.set(id, handle);
    this.slots.register(id, slots);
  }

  protected readonly tells: TellHandlers<ResourceManagerTell> = {
    'register-task-executor': (m) => this.register(m.id, m.slots, m.handle),
  };

  protected readonly asks: AskHandlers<ResourceManagerAsk, ResourceManagerReplies> = {
    'request-slots': ({ jobId, count }) =>
      this.slots.allocate(jobId, count).map((s) => ({
        allocationId: s.allocation!.id,
        taskExecutor: s.taskExecutor,
        slotIndex: s.index,
        handle: this.executors.get(s.taskExecutor)!,
      })),
    'free-slots': ({ jobId }) => this.slots.free(jobId),
    overview: () => ({ taskExecutors: this.slots.executorCount, slotsTotal: this.slots.total, slotsFree: this.slots.freeCount }),
  };
}
