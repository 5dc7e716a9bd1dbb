/**
 * Reference counts of shared (incremental) state pieces across the retained checkpoints of one
 * job (Flink's SharedStateRegistry), pure accounting: it says which pieces may be deleted, the
 * storage deletes them.
 *
 * Invariants:
 *  1. refCount(piece) is the number of registered checkpoints that reference the piece; a
 *     checkpoint that lists a piece twice counts once.
 *  2. unregister(n) returns exactly the pieces whose count dropped to zero, and forgets them.
 *  3. Registering a checkpoint again with the same pieces changes nothing (recovery may replay);
 *     with other pieces it throws TROUPE_PROTOCOL_VIOLATION; unregistering an unknown one returns [].
 */
import { TroupeError } from '../../core/errors.js';

export class SharedStateRegistry {
  private readonly counts = new Map<string, number>();
  private readonly byCheckpoint = new Map<number, ReadonlySet<string>>();

  register(checkpointId: number, pieces: Iterable<string>): void {
    const set = new Set(pieces);
    const known = this.byCheckpoint.get(checkpointId);
    if (known !== undefined) {
      if (known.size === set.size && [...set].every((p) => known.has(p))) return;
      throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `checkpoint ${checkpointId} is already registered with other shared state`, { details: { checkpointId } });
    }
    this.byCheckpoint.set(checkpointId, set);
    for (const p of set) this.counts.set(p, (this.counts.get(p) ?? 0) + 1);
  }

  /** The pieces no retained checkpoint references any more: delete them. */
  unregister(checkpointId: number): string[] {
    const set = this.byCheckpoint.get(checkpointId);
    if (set === undefined) return [];
    this.byCheckpoint.delete(checkpointId);
    const dead: string[] = [];
    for (const p of set) {
      const n = this.counts.get(p)! - 1;
      if (n === 0) {
        this.counts.delete(p);
        dead.push(p);
      } else {
        this.counts.set(p, n);
      }
    }
    return dead;
  }

  refCount(piece: string): number {
    return this.counts.get(piece) ?? 0;
  }

  has(checkpointId: number): boolean {
    return this.byCheckpoint.has(checkpointId);
  }

  /** Registered checkpoint ids, ascending. */
  get checkpoints(): number[] {
    return [...this.byCheckpoint.keys()].sort((a, b) => a - b);
  }

  /** Pieces referenced by at least one registered checkpoint, sorted. */
  get pieces(): string[] {
    return [...this.counts.keys()].sort();
  }
}
