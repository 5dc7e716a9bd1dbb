/**
 * How a task reaches another task by execution attempt id. Embedded: every task of the cluster
 * lives in this process, so the directory maps attempt ids to in-process actor handles; a
 * distributed TaskExecutor routes non-local attempts over its transport instead.
 */
import type { ExecutionAttemptId } from '../../core/ids.js';
import type { DataPlaneMessage } from '../protocol/data-plane.js';
import type { TaskHandle } from '../protocol/task.js';

export interface DataPlaneRouter {
  send(to: ExecutionAttemptId, message: DataPlaneMessage): void;
}

export class LocalTaskDirectory implements DataPlaneRouter {
  private readonly tasks = new Map<ExecutionAttemptId, TaskHandle>();
  /** Messages for attempts that are gone (a finished producer receiving late credit, ...). */
  dropped = 0;

  register(attempt: ExecutionAttemptId, handle: TaskHandle): void {
    this.tasks.set(attempt, handle);
  }

  unregister(attempt: ExecutionAttemptId): void {
    this.tasks.delete(attempt);
  }

  send(to: ExecutionAttemptId, message: DataPlaneMessage): void {
    const handle = this.tasks.get(to);
    if (handle === undefined) {
      this.dropped++;
      return;
    }
    handle.tell(message);
  }
}
