/**
 * Slot accounting of the ResourceManager, pure.
 *
 * Invariants:
 *  1. A slot is held by at most one job.
 *  2. A request is granted whole or not at all (no job holds a partial set of slots).
 *  3. free(job) returns every slot the job held.
 *  4. unregister(te) removes its slots and names the jobs that held any of them.
 */
import { TroupeError } from '../../core/errors.js';
import { newAllocationId, type AllocationId, type JobId, type TaskExecutorId } from '../../core/ids.js';

export interface Slot {
  readonly taskExecutor: TaskExecutorId;
  readonly index: number;
  allocation: { readonly id: AllocationId; readonly job: JobId } | null;
}

export class SlotManager {
  private readonly slots: Slot[] = [];
  private readonly executors = new Set<TaskExecutorId>();

  register(taskExecutor: TaskExecutorId, count: number): void {
    if (this.executors.has(taskExecutor)) return;
    this.executors.add(taskExecutor);
    for (let i = 0; i < count; i++) this.slots.push({ taskExecutor, index: i, allocation: null });
  }

  allocate(job: JobId, count: number): Slot[] {
    const free = this.slots.filter((s) => s.allocation === null);
    if (free.length < count) {
      throw new TroupeError('TROUPE_NOT_ENOUGH_SLOTS', `job needs ${count} slots, the cluster has ${free.length} free of ${this.slots.length}`, {
        details: { needed: count, free: free.length, total: this.slots.length },
      });
    }
    // spread over TaskExecutors: take slots round-robin by executor
    const byExecutor = new Map<TaskExecutorId, Slot[]>();
    for (const s of free) {
      const list = byExecutor.get(s.taskExecutor) ?? [];
      list.push(s);
      byExecutor.set(s.taskExecutor, list);
    }
    const chosen: Slot[] = [];
    while (chosen.length < count) {
      for (const list of byExecutor.values()) {
        const s = list.shift();
        if (s !== undefined && chosen.length < count) chosen.push(s);
      }
    }
    for (const s of chosen) s.allocation = { id: newAllocationId(), job };
    return chosen;
  }

  free(job: JobId): number {
    let n = 0;
    for (const s of this.slots) {
      if (s.allocation?.job === job) {
        s.allocation = null;
        n++;
      }
    }
    return n;
  }

  /** Removes a (lost) TaskExecutor's slots; returns the jobs that held slots on it. */
  unregister(taskExecutor: TaskExecutorId): JobId[] {
    if (!this.executors.delete(taskExecutor)) return [];
    const jobs = new Set<JobId>();
    for (let i = this.slots.length - 1; i >= 0; i--) {
      const s = this.slots[i]!;
      if (s.taskExecutor !== taskExecutor) continue;
      if (s.allocation !== null) jobs.add(s.allocation.job);
      this.slots.splice(i, 1);
    }
    return [...jobs];
  }

  get total(): number {
    return this.slots.length;
  }

  get freeCount(): number {
    return this.slots.filter((s) => s.allocation === null).length;
  }

  get executorCount(): number {
    return this.executors.size;
  }
}
