/**
 * A TaskExecutor: registers its slots with the ResourceManager, answers its heartbeats, runs one
 * Task actor per deployed subtask. In its own process it also watches the ResourceManager: when
 * heartbeat requests stop for longer than the timeout, the JobManager is gone and it shuts down.
 */
import { TroupeError } from '../../core/errors.js';
import type { ExecutionAttemptId, JobId, TaskExecutorId } from '../../core/ids.js';
import type { ResourceManagerHandle } from '../protocol/resource-manager.js';
import type { TaskExecutorAsk, TaskExecutorReplies, TaskExecutorTell } from '../protocol/task-executor.js';
import type { TaskAsk, TaskReplies, TaskTell } from '../protocol/task.js';
import type { ActorAddress } from '../runtime/handle.js';
import { ActorHandle, ActorShell, type AskHandlers, type TellHandlers } from '../runtime/typed-actor.js';
import type { LocalEndpoint } from '../transport/endpoint.js';
import { TaskActor, type TaskParams } from '../task/task.actor.js';
import type { UserCodeResolver } from '../task/user-code.js';
import type { TaskDirectory } from './task-directory.js';

export interface TaskExecutorParams {
  readonly id: TaskExecutorId;
  readonly slots: number;
  readonly endpoint: LocalEndpoint;
  readonly directory: TaskDirectory;
  readonly userCode: UserCodeResolver;
  readonly resourceManager: ActorAddress;
  readonly pid?: number;
  /** Process mode: shut down when the ResourceManager's heartbeat requests stop for this long. */
  readonly resourceManagerTimeoutMs?: number;
  /** Called when told to shut down or when the ResourceManager is lost. */
  readonly onShutdown?: (reason: string) => void;
}

interface RunningTask {
  readonly jobId: JobId;
  readonly handle: ActorHandle<TaskTell, TaskAsk, TaskReplies>;
  readonly peers: readonly ExecutionAttemptId[];
}

export class TaskExecutorActor extends ActorShell<TaskExecutorParams, TaskExecutorTell, TaskExecutorAsk, TaskExecutorReplies> {
  private readonly tasks = new Map<ExecutionAttemptId, RunningTask>();
  private resourceManager!: ResourceManagerHandle;
  private lastHeartbeat = Date.now();
  private watchdog: NodeJS.Timeout | null = null;

  protected override onStart(): void {
    const { endpoint, id } = this.params;
    endpoint.register(taskExecutorName(id), new ActorHandle<TaskExecutorTell, TaskExecutorAsk, TaskExecutorReplies>(this.actor, `taskexecutor ${id}`));
    this.resourceManager = endpoint.ref(this.params.resourceManager, 'resourcemanager');
    this.afterStart({ type: 'register' });
  }

  protected override onStop(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.params.endpoint.unregister(taskExecutorName(this.params.id));
  }

  protected readonly tells: TellHandlers<TaskExecutorTell> = {
    register: () => {
      const { id, slots, endpoint, pid } = this.params;
      this.resourceManager.tell({ type: 'register-task-executor', id, slots, address: endpoint.address(taskExecutorName(id)), ...(pid !== undefined ? { pid } : {}) });
      const timeout = this.params.resourceManagerTimeoutMs;
      if (timeout !== undefined) {
        this.lastHeartbeat = Date.now();
        this.watchdog = setInterval(() => this.tell({ type: 'heartbeat-check' }), Math.max(10, Math.floor(timeout / 4)));
        this.watchdog.unref();
      }
    },
    'heartbeat-request': () => {
      this.lastHeartbeat = Date.now();
      this.resourceManager.tell({ type: 'heartbeat', id: this.params.id });
    },
    'heartbeat-check': () => {
      const silent = Date.now() - this.lastHeartbeat;
      if (silent > this.params.resourceManagerTimeoutMs!) this.shutdown(`no heartbeat request from the ResourceManager for ${silent} ms`);
    },
    shutdown: () => this.shutdown('told to shut down by the ResourceManager'),
    'start-task': (m) => this.tasks.get(m.attemptId)?.handle.tell({ type: 'start' }),
    'cancel-task': (m) => this.tasks.get(m.attemptId)?.handle.tell({ type: 'cancel' }),
    'trigger-checkpoint': (m) => {
      const task = this.tasks.get(m.attemptId);
      if (task !== undefined) task.handle.tell({ type: 'trigger-checkpoint', checkpointId: m.checkpointId, timestamp: m.timestamp, ...(m.savepoint !== undefined ? { savepoint: m.savepoint } : {}) });
    },
    'notify-checkpoint': (m) => {
      for (const a of m.attempts) this.tasks.get(a)?.handle.tell({ type: 'notify-checkpoint', checkpointId: m.checkpointId, outcome: m.outcome });
    },
  };

  protected readonly asks: AskHandlers<TaskExecutorAsk, TaskExecutorReplies> = {
    'submit-task': async ({ tdd, jobMaster }) => {
      const userCode = await this.params.userCode.resolve(tdd.jobId);
      if (userCode === undefined) throw new TroupeError('TROUPE_JOB_NOT_FOUND', `no user code for job ${tdd.jobId} on ${this.params.id}`);
      const missing = tdd.vertex.operators.filter((op) => !userCode.has(op.id)).map((op) => `${op.name} (${op.id})`);
      if (missing.length > 0) {
        throw new TroupeError('TROUPE_INVALID_JOB_MODULE', `the job module rebuilt on ${this.params.id} has no operator ${missing.join(', ')}: it must build the same graph on every run`);
      }
      this.params.directory.addLocations(tdd.locations);
      const params: TaskParams = {
        tdd,
        userCode,
        router: this.params.directory,
        jobMaster: this.params.endpoint.ref(jobMaster, `jobmaster ${tdd.jobId}`),
      };
      const handle: RunningTask['handle'] = await this.spawn(TaskActor, params, `task ${tdd.attemptId}`);
      this.tasks.set(tdd.attemptId, { jobId: tdd.jobId, handle, peers: Object.keys(tdd.locations) as ExecutionAttemptId[] });
      this.params.directory.register(tdd.attemptId, handle);
      await handle.ask({ type: 'open' }, 60_000);
      return true as const;
    },
    'release-job': async ({ jobId, restart }) => {
      await this.releaseJob(jobId);
      if (restart !== true) this.params.userCode.release?.(jobId);
      return true as const;
    },
    'task-metrics': async ({ jobId }) => {
      const all = [...this.tasks.values()].filter((t) => t.jobId === jobId).map((t) => t.handle.ask({ type: 'metrics' }));
      return Promise.all(all);
    },
  };

  private async releaseJob(jobId: JobId): Promise<void> {
    const gone: Promise<void>[] = [];
    for (const [attempt, t] of this.tasks) {
      if (t.jobId !== jobId) continue;
      this.params.directory.unregister(attempt);
      this.params.directory.forgetLocations(t.peers);
      this.tasks.delete(attempt);
      gone.push(t.handle.destroy());
    }
    await Promise.allSettled(gone);
  }

  private shutdown(reason: string): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const t of this.tasks.values()) t.handle.tell({ type: 'cancel' });
    this.params.onShutdown?.(reason);
  }
}

export function taskExecutorName(id: TaskExecutorId): string {
  return `taskexecutor/${id}`;
}
