/**
 * The ResourceManager: launches TaskExecutors (through the configured launcher), registers them,
 * watches them with heartbeats, hands out slots, and tells JobMasters when a TaskExecutor is lost.
 * A lost TaskExecutor is launched again after `relaunchDelayMs` (unless that is negative), so a
 * job restarting after a crash finds its slots again.
 */
import { TroupeError } from '../../core/errors.js';
import type { JobId, TaskExecutorId } from '../../core/ids.js';
import type { JobMasterHandle } from '../protocol/job-master.js';
import type { ResourceManagerAsk, ResourceManagerReplies, ResourceManagerTell, TaskExecutorInfo } from '../protocol/resource-manager.js';
import type { TaskExecutorHandle } from '../protocol/task-executor.js';
import type { ActorAddress } from '../runtime/handle.js';
import { ActorHandle, ActorShell, type AskHandlers, type TellHandlers } from '../runtime/typed-actor.js';
import type { LocalEndpoint } from '../transport/endpoint.js';
import { taskExecutorName } from '../task-executor/task-executor.actor.js';
import { HeartbeatMonitor } from './heartbeat-monitor.js';
import type { LaunchedTaskExecutor, TaskExecutorLauncher, TaskExecutorSpec } from './launcher.js';
import { SlotManager } from './slot-manager.js';

export interface HeartbeatConfig {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface ResourceManagerParams {
  readonly endpoint: LocalEndpoint;
  readonly launcher: TaskExecutorLauncher;
  readonly taskExecutors: readonly TaskExecutorSpec[];
  readonly heartbeat: HeartbeatConfig;
  /** Delay before a lost TaskExecutor is launched again; negative: never (default 500 ms). */
  readonly relaunchDelayMs?: number;
}

interface Registered {
  readonly info: TaskExecutorInfo;
  readonly handle: TaskExecutorHandle;
}

export const RESOURCE_MANAGER = 'resourcemanager';

export class ResourceManagerActor extends ActorShell<ResourceManagerParams, ResourceManagerTell, ResourceManagerAsk, ResourceManagerReplies> {
  private readonly slots = new SlotManager();
  private readonly executors = new Map<TaskExecutorId, Registered>();
  private readonly launched = new Map<TaskExecutorId, LaunchedTaskExecutor>();
  private readonly jobMasters = new Map<JobId, ActorAddress>();
  private monitor!: HeartbeatMonitor<TaskExecutorId>;
  private ticker: NodeJS.Timeout | null = null;
  private self!: ActorAddress;
  private stopping = false;
  private readonly relaunching = new Set<TaskExecutorId>();

  protected override onStart(): void {
    const { endpoint, heartbeat } = this.params;
    this.monitor = new HeartbeatMonitor(heartbeat.intervalMs, heartbeat.timeoutMs);
    this.self = endpoint.register(RESOURCE_MANAGER, new ActorHandle<ResourceManagerTell, ResourceManagerAsk, ResourceManagerReplies>(this.actor, RESOURCE_MANAGER));
    this.params.launcher.bind?.((definition, params) => this.actor.createChild(definition, { mode: 'in-memory', customParameters: params }));
    this.afterStart({ type: 'launch' });
  }

  protected override async onStop(): Promise<void> {
    await this.stopAll();
  }

  protected readonly tells: TellHandlers<ResourceManagerTell> = {
    launch: async () => {
      const tick = Math.max(5, Math.floor(this.params.heartbeat.intervalMs / 2));
      this.ticker = setInterval(() => this.tell({ type: 'heartbeat-tick' }), tick);
      this.ticker.unref();
      await Promise.all(this.params.taskExecutors.map((spec) => this.launchOne(spec)));
    },
    relaunch: async ({ id }) => {
      this.relaunching.delete(id);
      const spec = this.params.taskExecutors.find((s) => s.id === id);
      if (this.stopping || spec === undefined || this.launched.has(id) || this.executors.has(id)) return;
      console.error(`[troupe] launching TaskExecutor ${id} again`);
      await this.launchOne(spec);
    },
    'register-task-executor': ({ id, slots, address, pid }) => {
      if (this.stopping) return;
      const handle: TaskExecutorHandle = this.params.endpoint.ref(address, `taskexecutor ${id}`);
      this.executors.set(id, { info: { id, endpoint: address.endpoint, slots, ...(pid !== undefined ? { pid } : {}) }, handle });
      this.slots.register(id, slots);
      this.monitor.add(id, Date.now());
    },
    heartbeat: ({ id }) => this.monitor.received(id, Date.now()),
    'heartbeat-tick': () => {
      const { request, lost } = this.monitor.tick(Date.now());
      for (const id of request) this.executors.get(id)?.handle.tell({ type: 'heartbeat-request', sentAt: Date.now() });
      for (const l of lost) this.lose(l.target, `no heartbeat for ${l.silentMs} ms (timeout ${this.params.heartbeat.timeoutMs} ms)`);
    },
    'task-executor-exited': ({ id, reason }) => {
      this.launched.delete(id);
      this.lose(id, reason);
    },
  };

  protected readonly asks: AskHandlers<ResourceManagerAsk, ResourceManagerReplies> = {
    'request-slots': ({ jobId, count, jobMaster }) => {
      const granted = this.slots.allocate(jobId, count);
      this.jobMasters.set(jobId, jobMaster);
      return granted.map((s) => ({
        allocationId: s.allocation!.id,
        taskExecutor: s.taskExecutor,
        slotIndex: s.index,
        address: { endpoint: this.executors.get(s.taskExecutor)!.info.endpoint, name: taskExecutorName(s.taskExecutor) },
      }));
    },
    'free-slots': ({ jobId }) => {
      this.jobMasters.delete(jobId);
      return this.slots.free(jobId);
    },
    overview: () => ({
      taskExecutors: this.slots.executorCount,
      slotsTotal: this.slots.total,
      slotsFree: this.slots.freeCount,
      taskExecutorsExpected: this.params.taskExecutors.length,
      executors: [...this.executors.values()].map((e) => e.info),
    }),
    shutdown: async () => {
      await this.stopAll();
      return true as const;
    },
  };

  private async launchOne(spec: TaskExecutorSpec): Promise<void> {
    try {
      const l = await this.params.launcher.launch(spec, this.self, (reason) => this.tell({ type: 'task-executor-exited', id: spec.id, reason }));
      this.launched.set(spec.id, l);
    } catch (error) {
      console.error(`[troupe] launching TaskExecutor ${spec.id} failed:`, error instanceof Error ? error.message : error);
    }
  }

  private scheduleRelaunch(id: TaskExecutorId): void {
    const delay = this.params.relaunchDelayMs ?? 500;
    if (this.stopping || delay < 0 || this.relaunching.has(id)) return;
    this.relaunching.add(id);
    setTimeout(() => this.tell({ type: 'relaunch', id }), delay).unref();
  }

  private lose(id: TaskExecutorId, reason: string): void {
    const registered = this.executors.get(id);
    this.executors.delete(id);
    this.monitor.remove(id);
    const jobs = this.slots.unregister(id);
    if (registered === undefined || this.stopping) return;
    const error = new TroupeError('TROUPE_TASK_EXECUTOR_LOST', `TaskExecutor ${id} at ${registered.info.endpoint} lost: ${reason}`).toRecord();
    console.error(`[troupe] ${error.message}`);
    for (const job of jobs) {
      const jm = this.jobMasters.get(job);
      if (jm === undefined) continue;
      const handle: JobMasterHandle = this.params.endpoint.ref(jm);
      handle.tell({ type: 'task-executor-lost', taskExecutor: id, error });
    }
    const l = this.launched.get(id);
    this.launched.delete(id);
    l?.stop().catch(() => undefined);
    this.scheduleRelaunch(id);
  }

  private async stopAll(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    for (const e of this.executors.values()) e.handle.tell({ type: 'shutdown' });
    await Promise.allSettled([...this.launched.values()].map((l) => l.stop()));
    this.launched.clear();
    await this.params.launcher.close();
  }
}
