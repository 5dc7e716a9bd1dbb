/**
 * Keyed state in checkpoint files: a subtask's captures become piece files in the 'shared' scope,
 * and a KeyedStateHandle (plain JSON, it rides in acks and in the checkpoint metadata) lists the
 * pieces that restore it. Incremental checkpoints reference the pieces of earlier ones.
 *
 * Invariants:
 *  1. A handle's pieces, applied in order, restore the state of its last capture: the pieces of
 *     one full image, then those of each later delta. `captures[i]` counts the files of capture i
 *     (captures[0]: the full image), so the chain's length and the full image's size are known
 *     without reading a file. Each file also says what it is (keyed-pieces.ts): the first file of
 *     the full image is a full image, every other file a delta.
 *  2. A delta's handle is the previous handle plus the new files, a full one holds only new files;
 *     a delta with no changes writes nothing and returns the previous handle.
 *  3. File names are unique per operator, subtask, epoch, checkpoint and piece, and valid store
 *     segments (checkpoint-store.ts), so a retried upload rewrites the same file and two writers
 *     never touch one file.
 *  4. Restore is all or nothing: every needed file is read, verified and decoded, and every piece
 *     checked (keyed-changes.ts), before the backend is changed; the first restore call declares
 *     the union of all pieces' states, so a state that does not fit the backend's registered ones
 *     fails before anything is applied. (What is left: a backend failing inside restore itself,
 *     e.g. a full disk under sqlite.)
 */
import type { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { TroupeError } from '../../core/errors.js';
import type { KeyedStateBackend, KeyedStateCapture, KeyedStateChanges, KeyedStateInfoLike, StateBackendKind } from '../backend.js';
import type { StateFileHandle } from '../checkpoint-storage/checkpoint-metadata.js';
import type { CheckpointReader } from '../checkpoint-storage/checkpoint-reader.js';
import { joinPath } from '../checkpoint-storage/checkpoint-store.js';
import type { CheckpointWriter } from '../checkpoint-storage/checkpoint-writer.js';
import { corruptFile } from '../checkpoint-storage/file-format.js';
import type { KeyGroupRange } from '../key-groups.js';
import { checkKeyedChanges, intersect, isKeyGroupRange } from './keyed-changes.js';
import { decodePiece, encodePieces, PIECE_TARGET_BYTES } from './keyed-pieces.js';

export interface KeyedStateHandle {
  /** The backend that captured the state (informational: either backend restores it). */
  readonly backend: StateBackendKind;
  readonly maxParallelism: number;
  /** The key groups the pieces speak for. */
  readonly range: KeyGroupRange;
  /** The files, in apply order (invariant 1). */
  readonly pieces: readonly StateFileHandle[];
  /** Files per capture, in order: captures[0] files hold the full image, each later entry one delta. */
  readonly captures: readonly number[];
}

export interface IncrementalConfig {
  readonly incremental: boolean;
  /** The most captures a chain holds (the full image included) before a full one is taken again. */
  readonly materializeEvery: number;
}

export interface SnapshotId {
  readonly operatorId: string;
  readonly subtask: number;
  readonly checkpointId: number;
}

export interface WriteOptions {
  /** Encoded body size per file (default 32 MiB). */
  readonly pieceBytes?: number;
}

/**
 * Whether the next capture must be full: not incremental, no previous handle, a chain that would
 * grow past `materializeEvery` captures, or deltas that already outweigh the full image (restoring
 * them costs more than a new full image would save).
 */
export function needsFull(previous: KeyedStateHandle | null, config: IncrementalConfig): boolean {
  if (!config.incremental || previous === null) return true;
  const every = Math.max(1, Math.floor(config.materializeEvery));
  if (previous.captures.length + 1 > every) return true;
  const fullFiles = previous.captures[0] ?? previous.pieces.length;
  let fullBytes = 0;
  let deltaBytes = 0;
  previous.pieces.forEach((p, i) => {
    if (i < fullFiles) fullBytes += p.bytes;
    else deltaBytes += p.bytes;
  });
  return deltaBytes > fullBytes;
}

/** Every file the handle needs, in apply order. */
export function keyedHandleFiles(h: KeyedStateHandle): StateFileHandle[] {
  return [...h.pieces];
}

/**
 * Materializes the capture, encodes it and writes its pieces (scope 'shared'); returns the handle
 * of the state as captured (invariants 1-3). `previous` must be the handle of the same backend's
 * capture just before this one (ignored when the capture is full). Releases the capture once it is
 * encoded (whatever happens).
 */
export async function writeKeyedSnapshot(
  writer: CheckpointWriter,
  capture: KeyedStateCapture,
  previous: KeyedStateHandle | null,
  id: SnapshotId,
  options: WriteOptions = {},
): Promise<KeyedStateHandle> {
  // only the encoded bodies outlive this block: the materialized changes can be collected during the writes
  let head: { readonly full: boolean; readonly maxParallelism: number; readonly range: KeyGroupRange };
  let bodies: Array<Buffer | undefined>;
  try {
    const changes = await capture.materialize();
    if (!changes.full && previous === null) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `operator ${id.operatorId} subtask ${id.subtask}: an incremental capture needs the previous handle`);
    if (!changes.full && previous !== null) checkChainable(previous, changes, id);
    if (!changes.full && previous !== null && changes.keyGroups.length === 0) return previous;
    head = { full: changes.full, maxParallelism: changes.maxParallelism, range: { start: changes.range.start, end: changes.range.end } };
    bodies = encodePieces(changes, options.pieceBytes ?? PIECE_TARGET_BYTES);
  } finally {
    capture.release();
  }
  const pieces: StateFileHandle[] = [];
  for (let i = 0; i < bodies.length; i++) {
    pieces.push(await writer.write(pieceName(id, writer.epoch, i), bodies[i]!, 'shared'));
    bodies[i] = undefined;
  }
  const backend: StateBackendKind = capture.backend ?? previous?.backend ?? 'heap';
  const { maxParallelism, range } = head;
  if (head.full || previous === null) return { backend, maxParallelism, range, pieces, captures: [pieces.length] };
  return { backend, maxParallelism, range, pieces: [...previous.pieces, ...pieces], captures: [...previous.captures, pieces.length] };
}

function checkChainable(previous: KeyedStateHandle, changes: KeyedStateChanges, id: SnapshotId): void {
  if (previous.maxParallelism !== changes.maxParallelism || previous.range.start !== changes.range.start || previous.range.end !== changes.range.end) {
    throw new TroupeError(
      'TROUPE_INVALID_ARGUMENT',
      `operator ${id.operatorId} subtask ${id.subtask}: a delta of key groups ${changes.range.start}-${changes.range.end} (max parallelism ${changes.maxParallelism}) cannot extend a handle of ${previous.range.start}-${previous.range.end} (max parallelism ${previous.maxParallelism})`,
    );
  }
}

const PLAIN_ID = /^[A-Za-z0-9_.=+-]{1,80}$/;

/** Invariant 3: `keyed-<operator>-<subtask>-e<epoch>-c<checkpoint>-p<piece>`; an operator id that is not a plain segment is hashed (after '@', which plain ids never hold). */
export function pieceName(id: SnapshotId, epoch: number, piece: number): string {
  const op = PLAIN_ID.test(id.operatorId) ? id.operatorId : `@${createHash('sha256').update(id.operatorId).digest('hex').slice(0, 32)}`;
  return `keyed-${op}-${id.subtask}-e${epoch}-c${id.checkpointId}-p${piece}`;
}

function handleProblem(h: KeyedStateHandle, maxParallelism: number): string | null {
  if (typeof h !== 'object' || h === null) return 'not an object';
  if (h.maxParallelism !== maxParallelism) return null; // reported apart (TROUPE_INVALID_ARGUMENT with both numbers)
  if (!isKeyGroupRange(h.range, maxParallelism)) return `bad key-group range ${JSON.stringify(h.range)}`;
  if (!Array.isArray(h.pieces) || h.pieces.length === 0) return 'no pieces';
  if (!Array.isArray(h.captures) || h.captures.length === 0 || !h.captures.every((n) => Number.isInteger(n) && n >= 1)) return 'bad capture counts';
  if (h.captures.reduce((a, b) => a + b, 0) !== h.pieces.length) return `capture counts ${h.captures.join('+')} do not add up to ${h.pieces.length} pieces`;
  return null;
}

/**
 * Restores `backend` from the handles of the old subtasks (all of them, or those whose range
 * overlaps the backend's): applies each overlapping handle's pieces in order (invariant 4).
 * Returns how many of the backend's key groups were restored. A handle of another max
 * parallelism is TROUPE_INVALID_ARGUMENT; a missing, corrupt or foreign file
 * TROUPE_CHECKPOINT_CORRUPT naming it, with the backend unchanged.
 */
export async function restoreKeyedState(reader: CheckpointReader, handles: readonly KeyedStateHandle[], backend: KeyedStateBackend): Promise<number> {
  const { maxParallelism, range } = backend;
  const used: KeyedStateHandle[] = [];
  for (const h of handles) {
    const problem = handleProblem(h, maxParallelism);
    if (problem !== null) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `keyed state handle: ${problem}`);
    if (h.maxParallelism !== maxParallelism) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `keyed state of max parallelism ${String(h.maxParallelism)} cannot restore into a backend of max parallelism ${maxParallelism}: key groups cannot be mapped`);
    }
    if (intersect(h.range, range) !== null) used.push(h);
  }
  const restored = new Set<number>();
  const all: KeyedStateChanges[] = [];
  for (const h of used) {
    let first = true;
    for (const piece of h.pieces) {
      all.push(await readPiece(reader, piece, h, first));
      first = false;
    }
    const covered = intersect(h.range, range)!;
    for (let g = covered.start; g <= covered.end; g++) restored.add(g);
  }
  if (all.length === 0) return 0;
  const states = unionOfStates(all);
  await backend.restore({ ...all[0]!, states });
  for (let i = 1; i < all.length; i++) await backend.restore(all[i]!);
  return restored.size;
}

async function readPiece(reader: CheckpointReader, piece: StateFileHandle, h: KeyedStateHandle, first: boolean): Promise<KeyedStateChanges> {
  const body = await reader.read(piece);
  const file = reader.store.locate(joinPath(reader.base, piece.path));
  let changes: KeyedStateChanges;
  try {
    changes = checkKeyedChanges(decodePiece(body), h.maxParallelism);
  } catch (error) {
    throw corruptFile(file, 'bad-body', `is not a keyed state piece: ${(error as Error).message}`, error);
  }
  if (changes.range.start !== h.range.start || changes.range.end !== h.range.end) {
    throw corruptFile(file, 'bad-body', `holds key groups ${changes.range.start}-${changes.range.end}, its handle says ${h.range.start}-${h.range.end}`);
  }
  if (changes.full !== first) throw corruptFile(file, 'bad-body', `is ${changes.full ? 'a full image' : 'a delta'}, its place in the handle wants ${first ? 'a full image' : 'a delta'}`);
  return changes;
}

/** Every state the pieces declare, once; two pieces that disagree on a state are refused. */
function unionOfStates(all: readonly KeyedStateChanges[]): KeyedStateInfoLike[] {
  const byName = new Map<string, KeyedStateInfoLike>();
  for (const changes of all) {
    for (const info of changes.states) {
      const seen = byName.get(info.name);
      if (seen === undefined) byName.set(info.name, { name: info.name, kind: info.kind, ttl: info.ttl });
      else if (seen.kind !== info.kind || seen.ttl !== info.ttl) {
        throw new TroupeError('TROUPE_INVALID_ARGUMENT', `keyed state '${info.name}' is ${seen.kind}${seen.ttl ? ' with TTL' : ''} in one piece and ${info.kind}${info.ttl ? ' with TTL' : ''} in another`);
      }
    }
  }
  return [...byName.values()];
}
