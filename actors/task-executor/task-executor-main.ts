/**
 * A TaskExecutor in its own process (forked, or spawned by `troupe agent`) or worker thread:
 * a comedy actor system holding the TaskExecutor actor, and a transport endpoint bound to the
 * same interface as its agent. It registers with the ResourceManager and exits when told to, or
 * when the ResourceManager's heartbeats stop.
 *
 * Configuration arrives as JSON in TROUPE_TE_CONFIG (workerData for a thread); the secret only in
 * TROUPE_SECRET, never on the command line.
 */
import path from 'node:path';
import { isMainThread, workerData } from 'node:worker_threads';
import { TroupeError } from '../../core/errors.js';
import type { TaskExecutorId } from '../../core/ids.js';
import { createActorSystem } from '../runtime/actor-system.js';
import type { DispatcherHandle } from '../protocol/dispatcher.js';
import { TransportEndpoint } from '../transport/transport-endpoint.js';
import { TaskDirectory } from './task-directory.js';
import { installJobRuntime } from '../../api/cli/job-module.js';
import { ShippedUserCode } from './shipped-user-code.js';
import { TaskExecutorActor, type TaskExecutorParams } from './task-executor.actor.js';

export interface TaskExecutorProcessConfig {
  readonly id: string;
  readonly slots: number;
  /** Interface to bind (the agent's). */
  readonly bind: string;
  /** The JobManager's transport endpoint, `host:port`. */
  readonly jobManager: string;
  readonly maxFrameBytes: number;
  readonly heartbeatTimeoutMs: number;
  readonly workDir: string;
}

export interface RunningTaskExecutor {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function runTaskExecutor(config: TaskExecutorProcessConfig, secret: string, exit: (reason: string) => void): Promise<RunningTaskExecutor> {
  installJobRuntime();
  const system = createActorSystem();
  const endpoint = await TransportEndpoint.listen({ host: config.bind, port: 0, secret, maxFrameBytes: config.maxFrameBytes });
  const directory = new TaskDirectory(endpoint);
  endpoint.onData((to, message) => directory.deliver(to, message));
  const dispatcher: DispatcherHandle = endpoint.ref({ endpoint: config.jobManager, name: 'dispatcher' }, 'dispatcher');
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await system.destroy().catch(() => undefined);
    await endpoint.close();
  };
  // the JobManager being unreachable is the same as its heartbeats stopping
  endpoint.onPeerLost((peer) => {
    if (peer === config.jobManager) {
      void close().then(() => exit(`lost the JobManager at ${peer}`));
    }
  });
  const params: TaskExecutorParams = {
    id: config.id as TaskExecutorId,
    slots: config.slots,
    endpoint,
    directory,
    userCode: new ShippedUserCode(dispatcher, path.join(config.workDir, config.id)),
    resourceManager: { endpoint: config.jobManager, name: 'resourcemanager' },
    pid: process.pid,
    resourceManagerTimeoutMs: config.heartbeatTimeoutMs,
    onShutdown: (reason) => {
      void close().then(() => exit(reason));
    },
  };
  const root = await system.rootActor();
  await root.createChild(TaskExecutorActor, { mode: 'in-memory', customParameters: params });
  return { endpoint: endpoint.id, close };
}

function configFromEnvironment(): TaskExecutorProcessConfig {
  const raw: unknown = isMainThread ? process.env.TROUPE_TE_CONFIG : (workerData as { config?: unknown } | null)?.config;
  if (typeof raw !== 'string') throw new TroupeError('TROUPE_SPAWN_FAILED', 'TROUPE_TE_CONFIG is not set');
  return JSON.parse(raw) as TaskExecutorProcessConfig;
}

export function main(): void {
  const config = configFromEnvironment();
  const secret = process.env.TROUPE_SECRET ?? '';
  if (isMainThread) process.title = `troupe-taskexecutor ${config.id}`;
  const quit = (reason: string, code = 0): void => {
    console.error(`[troupe] taskexecutor ${config.id} exiting: ${reason}`);
    if (isMainThread) process.exit(code);
    else process.exit(code); // ends the worker thread only
  };
  runTaskExecutor(config, secret, (reason) => quit(reason)).then(
    (te) => {
      const stop = (): void => {
        void te.close().then(() => quit('signal'));
      };
      if (isMainThread) {
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      }
    },
    (error: unknown) => quit(`failed to start: ${error instanceof Error ? error.message : String(error)}`, 1),
  );
}

if (require.main === module || (!isMainThread && (workerData as { troupeTaskExecutor?: boolean } | null)?.troupeTaskExecutor === true)) main();
