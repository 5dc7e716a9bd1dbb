/**
 * The embedded cluster: Dispatcher, ResourceManager and TaskExecutors as comedy `in-memory`
 * actors in this process. `troupe run`, `env.execute()` and tests run jobs on it; a service can
 * embed one.
 */
import type { ActorRef, ActorSystem } from 'comedy';
import type { Timers } from '../core/clock.js';
import { TroupeError } from '../core/errors.js';
import type { JobId, TaskExecutorId } from '../core/ids.js';
import type { JobGraph } from '../core/job-graph.js';
import { DispatcherActor, type DispatcherParams } from './dispatcher/dispatcher.actor.js';
import type { DispatcherAsk, DispatcherHandle, DispatcherReplies, DispatcherTell, JobSummary } from './protocol/dispatcher.js';
import type { JobResult, JobStatusReport, TaskMetrics } from './protocol/job-status.js';
import type { ClusterOverview, ResourceManagerAsk, ResourceManagerHandle, ResourceManagerReplies, ResourceManagerTell } from './protocol/resource-manager.js';
import { EmbeddedLauncher } from './resource-manager/embedded-launcher.js';
import { ResourceManagerActor, type ResourceManagerParams } from './resource-manager/resource-manager.actor.js';
import { createActorSystem } from './runtime/actor-system.js';
import { ActorHandle } from './runtime/typed-actor.js';
import { LocalEndpoint } from './transport/endpoint.js';
import { TaskDirectory } from './task-executor/task-directory.js';
import { InProcessUserCodeStore, type JobUserCode } from './task/user-code.js';

export interface MiniClusterOptions {
  /** Number of TaskExecutors (default 1). */
  readonly taskExecutors?: number;
  /** Slots per TaskExecutor (default 8). */
  readonly slotsPerTaskExecutor?: number;
  /** Clock and timers of the JobMasters' checkpoint coordinators (tests drive them by hand). */
  readonly jobMasterTimers?: Timers;
}

export class MiniCluster {
  private closed = false;

  private constructor(
    private readonly system: ActorSystem,
    readonly dispatcher: DispatcherHandle,
    readonly resourceManager: ResourceManagerHandle,
    private readonly userCode: InProcessUserCodeStore,
    readonly directory: TaskDirectory,
  ) {}

  static async start(options: MiniClusterOptions = {}): Promise<MiniCluster> {
    const taskExecutors = options.taskExecutors ?? 1;
    const slots = options.slotsPerTaskExecutor ?? 8;
    if (!Number.isInteger(taskExecutors) || taskExecutors < 1 || !Number.isInteger(slots) || slots < 1) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `a mini cluster needs at least one TaskExecutor with at least one slot (got ${taskExecutors} x ${slots})`);
    }
    const system = createActorSystem();
    const root = await system.rootActor();
    const userCode = new InProcessUserCodeStore();
    const endpoint = new LocalEndpoint();
    const directory = new TaskDirectory();
    const rmParams: ResourceManagerParams = {
      endpoint,
      launcher: new EmbeddedLauncher(endpoint, directory, userCode),
      taskExecutors: Array.from({ length: taskExecutors }, (_, i) => ({ id: `te-${i}` as TaskExecutorId, slots })),
      heartbeat: { intervalMs: 1_000, timeoutMs: 10_000 },
    };
    const rmRef: ActorRef = await root.createChild(ResourceManagerActor, { mode: 'in-memory', customParameters: rmParams });
    const resourceManager: ResourceManagerHandle = new ActorHandle<ResourceManagerTell, ResourceManagerAsk, ResourceManagerReplies>(rmRef, 'resourcemanager');
    const dParams: DispatcherParams = { endpoint, resourceManager, ...(options.jobMasterTimers !== undefined ? { jobMasterTimers: options.jobMasterTimers } : {}) };
    const dRef: ActorRef = await root.createChild(DispatcherActor, { mode: 'in-memory', customParameters: dParams });
    const dispatcher = new ActorHandle<DispatcherTell, DispatcherAsk, DispatcherReplies>(dRef, 'dispatcher');
    const cluster = new MiniCluster(system, dispatcher, resourceManager, userCode, directory);
    await waitForTaskExecutors(resourceManager, taskExecutors, 10_000).catch(async (error: unknown) => {
      await cluster.close();
      throw error;
    });
    return cluster;
  }

  async submit(jobGraph: JobGraph, userCode: JobUserCode): Promise<JobId> {
    this.assertOpen();
    this.userCode.register(jobGraph.jobId, userCode);
    try {
      const { jobId } = await this.dispatcher.ask({ type: 'submit-job', jobGraph });
      return jobId;
    } catch (error) {
      this.userCode.release(jobGraph.jobId);
      throw error;
    }
  }

  /** Resolves when the job is terminal (polling the Dispatcher, as a REST client would). */
  async result(jobId: JobId, timeoutMs = Infinity): Promise<JobResult> {
    const deadline = Date.now() + timeoutMs;
    let wait = 1;
    for (;;) {
      this.assertOpen();
      const result = await this.dispatcher.ask({ type: 'job-result', jobId });
      if (result !== null) {
        this.userCode.release(jobId);
        return result;
      }
      if (Date.now() > deadline) throw new TroupeError('TROUPE_REQUEST_TIMEOUT', `job ${jobId} did not end within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 50);
    }
  }

  status(jobId: JobId): Promise<JobStatusReport> {
    return this.dispatcher.ask({ type: 'job-status', jobId });
  }

  metrics(jobId: JobId): Promise<TaskMetrics[]> {
    return this.dispatcher.ask({ type: 'job-metrics', jobId });
  }

  async cancel(jobId: JobId): Promise<void> {
    await this.dispatcher.ask({ type: 'cancel-job', jobId });
  }

  list(): Promise<JobSummary[]> {
    return this.dispatcher.ask({ type: 'list-jobs' });
  }

  overview(): Promise<ClusterOverview> {
    return this.resourceManager.ask({ type: 'overview' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.resourceManager.ask({ type: 'shutdown' }).catch(() => undefined);
    await this.system.destroy();
  }

  private assertOpen(): void {
    if (this.closed) throw new TroupeError('TROUPE_CLUSTER_SHUT_DOWN', 'the mini cluster is closed');
  }
}

/** Resolves once `expected` TaskExecutors registered with the ResourceManager. */
export async function waitForTaskExecutors(rm: ResourceManagerHandle, expected: number, timeoutMs: number): Promise<ClusterOverview> {
  const deadline = Date.now() + timeoutMs;
  let wait = 1;
  for (;;) {
    const overview = await rm.ask({ type: 'overview' });
    if (overview.taskExecutors >= expected) return overview;
    if (Date.now() > deadline) {
      throw new TroupeError('TROUPE_SPAWN_FAILED', `${overview.taskExecutors} of ${expected} TaskExecutors registered within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 50);
  }
}
