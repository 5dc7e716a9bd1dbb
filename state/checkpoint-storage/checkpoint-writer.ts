/**
 * Writes the state files of one checkpoint (or savepoint) for one task attempt, fenced: the task
 * gets it from JobCheckpointStorage for (checkpoint id, epoch) and acknowledges the handles.
 *
 * Invariants:
 *  1. Every write is atomic and create-only: a path holds at most one content for its life. The
 *     same name with the same bytes again returns the same handle (a retried upload); with other
 *     bytes it throws TROUPE_CHECKPOINT_CONFLICT (details.reason 'conflict'), so a file a finished
 *     checkpoint references is never overwritten.
 *  2. The fence runs before and after each write: once the job's registered epoch is newer than
 *     the writer's, writes throw TROUPE_CHECKPOINT_FENCED (details.reason 'fenced'); once the
 *     checkpoint is finalized, TROUPE_CHECKPOINT_CONFLICT (details.reason 'finalized'). A file
 *     created across the fence is removed again (no one can have acknowledged it yet).
 *  3. Names are single path segments not starting with '_' (reserved for `_metadata`, `_epoch`).
 */
import { TroupeError } from '../../core/errors.js';
import { encodeValue } from '../../actors/network/record-codec.js';
import { checkSegment, joinPath, type CheckpointStore } from './checkpoint-store.js';
import { encodeFile } from './file-format.js';
import type { StateFileHandle, StateScope } from './checkpoint-metadata.js';

/** Where a writer puts its files and how it learns it must stop. */
export interface WriteTarget {
  readonly store: CheckpointStore;
  /** Directory the handles are relative to. */
  readonly base: string;
  readonly jobId: string;
  /** Directory per scope, relative to base ('' = base itself). */
  readonly dirs: Readonly<Record<StateScope, string>>;
  /** Throws when writes must stop (invariant 2). */
  fence(): Promise<void>;
}

export class CheckpointWriter {
  constructor(
    private readonly target: WriteTarget,
    readonly checkpointId: number,
    readonly epoch: number,
  ) {}

  get jobId(): string {
    return this.target.jobId;
  }

  async write(name: string, body: Uint8Array, scope: StateScope = 'exclusive'): Promise<StateFileHandle> {
    checkSegment(name, 'state file name');
    if (name.startsWith('_')) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `state file name ${JSON.stringify(name)} may not start with '_' (reserved)`);
    const dir = this.target.dirs[scope];
    if (dir === undefined) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `unknown state scope ${JSON.stringify(scope)}`);
    const { store, base, jobId } = this.target;
    const relative = joinPath(dir, name);
    const path = joinPath(base, relative);
    const { bytes, sha256 } = encodeFile({ kind: scope, jobId, checkpointId: this.checkpointId, epoch: this.epoch }, body);
    const handle: StateFileHandle = { path: relative, scope, checkpointId: this.checkpointId, bytes: bytes.length, sha256 };
    await this.target.fence();
    const created = await store.put(path, bytes, { exclusive: true });
    if (!created) {
      const existing = await store.get(path);
      if (existing === undefined || !bytes.equals(existing)) {
        throw new TroupeError('TROUPE_CHECKPOINT_CONFLICT', `state file ${store.locate(path)} already exists with other content`, {
          details: { reason: 'conflict', file: store.locate(path) },
        });
      }
    }
    try {
      await this.target.fence();
    } catch (error) {
      if (created) await store.remove(path);
      throw error;
    }
    return handle;
  }

  /** Writes a plain value with the record codec (record-codec.ts); read it with `readValue`. */
  async writeValue(name: string, value: unknown, scope: StateScope = 'exclusive'): Promise<StateFileHandle> {
    return this.write(name, encodeValue(value), scope);
  }
}

/**
 * A fence failure: an older attempt (TROUPE_CHECKPOINT_FENCED, reason 'fenced'), or a checkpoint
 * that is already finalized (TROUPE_CHECKPOINT_CONFLICT, reason 'finalized').
 */
export function fencedError(reason: 'fenced' | 'finalized', message: string, details: Record<string, unknown>): TroupeError {
  return new TroupeError(reason === 'fenced' ? 'TROUPE_CHECKPOINT_FENCED' : 'TROUPE_CHECKPOINT_CONFLICT', message, { details: { reason, ...details } });
}
