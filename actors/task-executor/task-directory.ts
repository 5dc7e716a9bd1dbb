/**
 * How a task reaches another task by execution attempt id. Tasks of this process are reached
 * through their actor handles (records handed over by reference); tasks elsewhere through the
 * endpoint's data frames, to the endpoint their deployment descriptor names.
 */
import type { ExecutionAttemptId } from '../../core/ids.js';
import type { DataPlaneMessage } from '../protocol/data-plane.js';
import type { TaskHandle } from '../protocol/task.js';
import type { LocalEndpoint } from '../transport/endpoint.js';

export interface DataPlaneRouter {
  send(to: ExecutionAttemptId, message: DataPlaneMessage): void;
  /** True when `to` runs in another process, so records must be encoded for it. */
  isRemote(to: ExecutionAttemptId): boolean;
}

export class TaskDirectory implements DataPlaneRouter {
  private readonly tasks = new Map<ExecutionAttemptId, TaskHandle>();
  private readonly locations = new Map<ExecutionAttemptId, string>();
  /** Messages for attempts that are gone (a finished producer receiving late credit, ...). */
  dropped = 0;

  constructor(private readonly endpoint: LocalEndpoint | null = null) {}

  register(attempt: ExecutionAttemptId, handle: TaskHandle): void {
    this.tasks.set(attempt, handle);
  }

  unregister(attempt: ExecutionAttemptId): void {
    this.tasks.delete(attempt);
    this.locations.delete(attempt);
  }

  /** Where the peers of a deployed task run (endpoint ids). */
  addLocations(locations: Readonly<Record<string, string>>): void {
    for (const [attempt, endpoint] of Object.entries(locations)) this.locations.set(attempt as ExecutionAttemptId, endpoint);
  }

  forgetLocations(attempts: Iterable<ExecutionAttemptId>): void {
    for (const a of attempts) this.locations.delete(a);
  }

  isRemote(to: ExecutionAttemptId): boolean {
    const at = this.locations.get(to);
    return this.endpoint !== null && at !== undefined && at !== this.endpoint.id;
  }

  send(to: ExecutionAttemptId, message: DataPlaneMessage): void {
    const handle = this.tasks.get(to);
    if (handle !== undefined) {
      handle.tell(message);
      return;
    }
    const at = this.locations.get(to);
    if (this.endpoint !== null && at !== undefined && at !== this.endpoint.id) {
      this.endpoint.sendData(at, to, message);
      return;
    }
    this.dropped++;
  }

  /** A data frame from another process for a task of this one. */
  deliver(to: ExecutionAttemptId, message: DataPlaneMessage): void {
    const handle = this.tasks.get(to);
    if (handle === undefined) this.dropped++;
    else handle.tell(message);
  }
}
