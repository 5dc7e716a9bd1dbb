/** Embedded mode: TaskExecutors are in-memory children of the ResourceManager, in this process. */
import type { ActorRef } from 'comedy';
import type { ActorAddress } from '../runtime/handle.js';
import type { LocalEndpoint } from '../transport/endpoint.js';
import type { TaskDirectory } from '../task-executor/task-directory.js';
import { TaskExecutorActor, type TaskExecutorParams } from '../task-executor/task-executor.actor.js';
import type { UserCodeResolver } from '../task/user-code.js';
import type { LaunchedTaskExecutor, TaskExecutorLauncher, TaskExecutorSpec } from './launcher.js';

type SpawnChild = (definition: new () => object, params: unknown) => Promise<ActorRef>;

export class EmbeddedLauncher implements TaskExecutorLauncher {
  readonly mode = 'embedded';
  private spawnChild: SpawnChild | null = null;

  constructor(
    private readonly endpoint: LocalEndpoint,
    private readonly directory: TaskDirectory,
    private readonly userCode: UserCodeResolver,
  ) {}

  /** The ResourceManager hands over how to create its children. */
  bind(spawnChild: SpawnChild): void {
    this.spawnChild = spawnChild;
  }

  async launch(spec: TaskExecutorSpec, resourceManager: ActorAddress): Promise<LaunchedTaskExecutor> {
    if (this.spawnChild === null) throw new Error('EmbeddedLauncher used before the ResourceManager bound it');
    const params: TaskExecutorParams = { id: spec.id, slots: spec.slots, endpoint: this.endpoint, directory: this.directory, userCode: this.userCode, resourceManager };
    const ref = await this.spawnChild(TaskExecutorActor, params);
    return { stop: () => ref.destroy() };
  }

  async close(): Promise<void> {}
}
