/**
 * Forked and threaded modes: each TaskExecutor runs task-executor-main in a child process
 * (`forked`, process title `troupe-taskexecutor <id>`) or a worker thread (`threaded`) of this
 * host, bound to loopback, and connects back to the JobManager's endpoint over the transport.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ActorAddress } from '../runtime/handle.js';
import type { TaskExecutorProcessConfig } from '../task-executor/task-executor-main.js';
import type { LaunchedTaskExecutor, TaskExecutorLauncher, TaskExecutorSpec } from './launcher.js';

export const TASK_EXECUTOR_MAIN = path.resolve(__dirname, '..', 'task-executor', 'task-executor-main.js');

export interface ProcessLauncherOptions {
  readonly mode: 'forked' | 'threaded';
  readonly bind: string;
  readonly secret: string;
  readonly maxFrameBytes: number;
  readonly heartbeatTimeoutMs: number;
  readonly workDir: string;
}

export class ProcessLauncher implements TaskExecutorLauncher {
  private readonly running = new Set<LaunchedTaskExecutor>();

  constructor(private readonly options: ProcessLauncherOptions) {}

  get mode(): string {
    return this.options.mode;
  }

  launch(spec: TaskExecutorSpec, resourceManager: ActorAddress, exited: (reason: string) => void): Promise<LaunchedTaskExecutor> {
    const config: TaskExecutorProcessConfig = {
      id: spec.id,
      slots: spec.slots,
      bind: this.options.bind,
      jobManager: resourceManager.endpoint,
      maxFrameBytes: this.options.maxFrameBytes,
      heartbeatTimeoutMs: this.options.heartbeatTimeoutMs,
      workDir: this.options.workDir,
    };
    const launched = this.options.mode === 'forked' ? this.fork(config, exited) : this.thread(config, exited);
    this.running.add(launched);
    return Promise.resolve(launched);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.running].map((l) => l.stop()));
    this.running.clear();
  }

  private fork(config: TaskExecutorProcessConfig, exited: (reason: string) => void): LaunchedTaskExecutor {
    const child: ChildProcess = spawn(process.execPath, [TASK_EXECUTOR_MAIN], {
      env: { ...process.env, TROUPE_TE_CONFIG: JSON.stringify(config), TROUPE_SECRET: this.options.secret },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    let stopping = false;
    const gone = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (!stopping) exited(`process ${child.pid ?? '?'} exited (${signal ?? `code ${code ?? '?'}`})`);
        resolve();
      });
      child.once('error', (error) => {
        if (!stopping) exited(`process could not start: ${error.message}`);
        resolve();
      });
    });
    const launched: LaunchedTaskExecutor = {
      ...(child.pid !== undefined ? { pid: child.pid } : {}),
      stop: async () => {
        stopping = true;
        this.running.delete(launched);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await gone;
          clearTimeout(timer);
        }
      },
    };
    return launched;
  }

  private thread(config: TaskExecutorProcessConfig, exited: (reason: string) => void): LaunchedTaskExecutor {
    const worker = new Worker(TASK_EXECUTOR_MAIN, {
      workerData: { troupeTaskExecutor: true, config: JSON.stringify(config) },
      env: { ...process.env, TROUPE_SECRET: this.options.secret },
    });
    let stopping = false;
    let ended = false;
    const gone = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        ended = true;
        if (!stopping) exited(`worker thread exited (code ${code})`);
        resolve();
      });
      worker.once('error', (error) => {
        if (!stopping) exited(`worker thread failed: ${error.message}`);
      });
    });
    const launched: LaunchedTaskExecutor = {
      stop: async () => {
        stopping = true;
        this.running.delete(launched);
        if (!ended) await worker.terminate();
        await gone;
      },
    };
    return launched;
  }
}
