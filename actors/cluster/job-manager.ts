/**
 * The JobManager side of a cluster in one process: a transport endpoint (the cluster's RPC
 * address), the Dispatcher and ResourceManager actors, the REST server, and TaskExecutors
 * launched the way the cluster configuration says (embedded, forked, threaded, remote).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ActorSystem } from 'comedy';
import type { ClusterConfig } from '../../cluster-config/cluster-config.js';
import type { JobId, TaskExecutorId } from '../../core/ids.js';
import type { NetworkConfig } from '../../core/job-graph.js';
import type { ClusterGateway } from '../../api/rest/gateway.js';
import { startRestServer } from '../../api/rest/server.js';
import { DispatcherActor, type DispatcherParams } from '../dispatcher/dispatcher.actor.js';
import { waitForTaskExecutors } from '../mini-cluster.js';
import { SAVEPOINT_TIMEOUT_MS, type DispatcherAsk, type DispatcherHandle, type DispatcherReplies, type DispatcherTell } from '../protocol/dispatcher.js';
import type { ResourceManagerAsk, ResourceManagerHandle, ResourceManagerReplies, ResourceManagerTell } from '../protocol/resource-manager.js';
import { AgentLauncher } from '../agent/agent-launcher.js';
import { EmbeddedLauncher } from '../resource-manager/embedded-launcher.js';
import type { TaskExecutorLauncher, TaskExecutorSpec } from '../resource-manager/launcher.js';
import { ProcessLauncher } from '../resource-manager/process-launcher.js';
import { ResourceManagerActor, type ResourceManagerParams } from '../resource-manager/resource-manager.actor.js';
import { createActorSystem } from '../runtime/actor-system.js';
import { ActorHandle } from '../runtime/typed-actor.js';
import { TaskDirectory } from '../task-executor/task-directory.js';
import { ShippedUserCode } from '../task-executor/shipped-user-code.js';
import { TransportEndpoint } from '../transport/transport-endpoint.js';

export interface RunningJobManager {
  /** The cluster's RPC endpoint, `host:port`. */
  readonly endpoint: string;
  /** The REST base URL, e.g. `http://127.0.0.1:8081`. */
  readonly restUrl: string;
  readonly dispatcher: DispatcherHandle;
  readonly resourceManager: ResourceManagerHandle;
  /** Resolves when the cluster was shut down (REST `DELETE /cluster` or `close()`). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

export interface JobManagerOptions {
  /** How long to wait for every TaskExecutor to register (default 30 s). */
  readonly registrationTimeoutMs?: number;
}

export function taskExecutorSpecs(config: ClusterConfig): TaskExecutorSpec[] {
  const specs: TaskExecutorSpec[] = [];
  for (const group of config.taskExecutors) {
    for (let i = 0; i < group.count; i++) {
      const id = `te-${specs.length}` as TaskExecutorId;
      specs.push({ id, slots: group.slots, ...(group.host !== undefined ? { host: group.host, agentPort: group.agentPort ?? 6161 } : {}) });
    }
  }
  return specs;
}

/** The cluster's network settings for channels between processes; the job keeps its buffer timeout. */
export function clusterNetwork(config: ClusterConfig): Partial<NetworkConfig> {
  const n = config.network;
  return { bufferBytes: n.bufferBytes, maxRecordBytes: n.maxRecordBytes, exclusiveCredits: n.exclusiveCredits, floatingCredits: n.floatingCredits };
}

export async function startJobManager(config: ClusterConfig, options: JobManagerOptions = {}): Promise<RunningJobManager> {
  // without a configured secret (forked, threaded, embedded on loopback) the cluster makes its own:
  // its TaskExecutors get it from their parent, nobody else knows it
  const secret = config.secret ?? randomBytes(32).toString('hex');
  const endpoint = await TransportEndpoint.listen({
    host: config.jobmanager.address,
    port: config.jobmanager.rpcPort,
    secret,
    maxFrameBytes: config.network.maxFrameBytes,
  });
  const system: ActorSystem = createActorSystem();
  const teWorkDir = path.join(config.workDir, 'taskexecutors');
  let directory: TaskDirectory | null = null;
  let launcher: TaskExecutorLauncher;
  const dispatcherLocal: DispatcherHandle = endpoint.ref(endpoint.address('dispatcher'), 'dispatcher');
  switch (config.mode) {
    case 'embedded':
      directory = new TaskDirectory(endpoint);
      launcher = new EmbeddedLauncher(endpoint, directory, new ShippedUserCode(dispatcherLocal, path.join(teWorkDir, 'embedded')));
      break;
    case 'forked':
    case 'threaded':
      launcher = new ProcessLauncher({
        mode: config.mode,
        bind: config.jobmanager.address,
        secret,
        maxFrameBytes: config.network.maxFrameBytes,
        heartbeatTimeoutMs: config.heartbeat.timeoutMs,
        workDir: teWorkDir,
      });
      break;
    case 'remote':
      launcher = new AgentLauncher({ secret, maxFrameBytes: config.network.maxFrameBytes, heartbeatTimeoutMs: config.heartbeat.timeoutMs });
      break;
  }
  const d = directory;
  endpoint.onData((to, message) => d?.deliver(to, message));
  const specs = taskExecutorSpecs(config);
  const root = await system.rootActor();
  const rmParams: ResourceManagerParams = { endpoint, launcher, taskExecutors: specs, heartbeat: config.heartbeat };
  const resourceManager: ResourceManagerHandle = new ActorHandle<ResourceManagerTell, ResourceManagerAsk, ResourceManagerReplies>(
    await root.createChild(ResourceManagerActor, { mode: 'in-memory', customParameters: rmParams }),
    'resourcemanager',
  );
  const dParams: DispatcherParams = { endpoint, resourceManager, network: clusterNetwork(config) };
  const dispatcher: DispatcherHandle = new ActorHandle<DispatcherTell, DispatcherAsk, DispatcherReplies>(
    await root.createChild(DispatcherActor, { mode: 'in-memory', customParameters: dParams }),
    'dispatcher',
  );

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | null = null;
  let rest: { url: string; close(): Promise<void> } | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await rest?.close().catch(() => undefined);
      await resourceManager.ask({ type: 'shutdown' }, 30_000).catch(() => undefined);
      await system.destroy().catch(() => undefined);
      await endpoint.close();
      resolveClosed();
    })());

  try {
    await waitForTaskExecutors(resourceManager, specs.length, options.registrationTimeoutMs ?? 30_000);
    rest = await startRestServer(dispatcherGateway(dispatcher, resourceManager, close), {
      host: config.jobmanager.restBind,
      port: config.jobmanager.restPort,
      bodyLimitBytes: config.network.maxFrameBytes,
    });
  } catch (error) {
    await close();
    throw error;
  }
  return { endpoint: endpoint.id, restUrl: rest.url, dispatcher, resourceManager, closed, close };
}

/** The REST layer's view of the cluster: asks to the Dispatcher and ResourceManager. */
export function dispatcherGateway(dispatcher: DispatcherHandle, resourceManager: ResourceManagerHandle, shutdown: () => Promise<void>): ClusterGateway {
  return {
    async submitJob(jobGraph, artifact) {
      return dispatcher.ask({ type: 'submit-job', jobGraph, artifact: { ...artifact, args: [...artifact.args] } }, 60_000);
    },
    listJobs: () => dispatcher.ask({ type: 'list-jobs' }),
    jobStatus: (jobId: JobId) => dispatcher.ask({ type: 'job-status', jobId }),
    jobResult: (jobId: JobId) => dispatcher.ask({ type: 'job-result', jobId }),
    async cancelJob(jobId: JobId) {
      await dispatcher.ask({ type: 'cancel-job', jobId });
    },
    collected: (jobId: JobId, from: number) => dispatcher.ask({ type: 'collected', jobId, from }),
    triggerSavepoint: (jobId: JobId, { dir, stop }) => dispatcher.ask({ type: 'trigger-savepoint', jobId, stop, ...(dir !== undefined ? { dir } : {}) }, SAVEPOINT_TIMEOUT_MS),
    jobCheckpoints: (jobId: JobId) => dispatcher.ask({ type: 'job-checkpoints', jobId }),
    overview: () => resourceManager.ask({ type: 'overview' }),
    async shutdown() {
      await shutdown();
    },
  };
}
