/**
 * How the ResourceManager brings TaskExecutors to life. The mode comes from the cluster
 * configuration; the TaskExecutor code is the same in every mode (it registers itself with the
 * ResourceManager's address once it runs).
 */
import type { TaskExecutorId } from '../../core/ids.js';
import type { ActorRef } from 'comedy';
import type { ActorAddress } from '../runtime/handle.js';

export interface TaskExecutorSpec {
  readonly id: TaskExecutorId;
  readonly slots: number;
  /** Remote mode: the agent that spawns it. */
  readonly host?: string;
  readonly agentPort?: number;
}

export interface LaunchedTaskExecutor {
  readonly pid?: number;
  /** Stops the TaskExecutor (kills its process); resolves when it is gone. */
  stop(): Promise<void>;
}

export interface TaskExecutorLauncher {
  readonly mode: string;
  /** `exited` is called once if the TaskExecutor ends on its own (crash, kill). */
  launch(spec: TaskExecutorSpec, resourceManager: ActorAddress, exited: (reason: string) => void): Promise<LaunchedTaskExecutor>;
  close(): Promise<void>;
  /** Launchers whose TaskExecutors are children of the ResourceManager get its spawn function. */
  bind?(spawnChild: (definition: new () => object, params: unknown) => Promise<ActorRef>): void;
}
