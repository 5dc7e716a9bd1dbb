/**
 * The durable checkpoint directory of one job (Flink's FsCheckpointStorage + CompletedCheckpointStore),
 * over any CheckpointStore. Tasks get writers and readers from it; the JobMaster finalizes,
 * loads, retains and discards checkpoints, and takes savepoints. Layout:
 *
 *   <jobId>/_epoch               newest registered epoch (fencing)
 *   <jobId>/chk-<n>/_metadata    exists iff checkpoint n completed: written last, atomically
 *   <jobId>/chk-<n>/<name>       exclusive state of checkpoint n
 *   <jobId>/shared/<name>        incremental pieces that several checkpoints reference
 *   <jobId>/taskowned/<name>     files the tasks own: the storage never deletes them
 *   <savepoint>/_metadata, <name>, shared/<name>, taskowned/<name>   (self-contained)
 *
 * Invariants:
 *  1. Checkpoint n is complete iff chk-<n>/_metadata exists and verifies. finalize writes it last,
 *     create-only, after checking that every referenced file is present with its recorded size;
 *     finalizing again with the same content returns the same checkpoint, with other content it
 *     throws TROUPE_CHECKPOINT_CONFLICT ('finalized'). A checkpoint without _metadata, or a
 *     directory without a savepoint's _metadata, is TROUPE_CHECKPOINT_NOT_FOUND ('not-found').
 *  2. Fencing: epochs only grow; writers and finalize refuse an epoch older than the registered
 *     one (TROUPE_CHECKPOINT_FENCED, 'fenced') and writers refuse a finalized checkpoint
 *     (TROUPE_CHECKPOINT_CONFLICT, 'finalized'). The epoch lives in the store, so a zombie task
 *     on another host is fenced as well. (Check-then-write on a shared file system: a write racing
 *     the epoch change can land, but it is removed again or never referenced.)
 *  3. Mutations of the job directory run one at a time, and the SharedStateRegistry mirrors the
 *     completed checkpoints: it is rebuilt from the store before the first mutation (or by recover()).
 *  4. discard removes _metadata first, then chk-<n>/, then the shared pieces no retained checkpoint
 *     references: a crash in between leaves garbage, never a complete checkpoint with missing files.
 *  5. No partial restore: load() checks every file is present with its size, reads verify each
 *     file's checksum and identity (file-format.ts), verify() reads them all; failures are
 *     TROUPE_CHECKPOINT_CORRUPT naming the file.
 *  6. A savepoint references only files inside its own directory, by relative path: it can be moved.
 *  7. Tasks reference a shared piece of an earlier checkpoint only once that checkpoint completed, so
 *     collectGarbage(k) may delete shared pieces no completed checkpoint references that were
 *     written for checkpoints below k, and chk-<m>/ directories without _metadata for m < k.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { TroupeError, toErrorRecord, type ErrorRecord } from '../../core/errors.js';
import { checkPath, checkSegment, joinPath, type CheckpointStore } from './checkpoint-store.js';
import { corruptFile, decodeFile, encodeFile } from './file-format.js';
import { decodeMetadata, encodeMetadata, handleProblem, type CheckpointMetadata, type CompletedCheckpoint, type FinalizeInput, type StateFileHandle } from './checkpoint-metadata.js';
import { CheckpointReader } from './checkpoint-reader.js';
import { CheckpointWriter, fencedError } from './checkpoint-writer.js';
import { SharedStateRegistry } from './shared-state-registry.js';

export const METADATA_FILE = '_metadata';
export const EPOCH_FILE = '_epoch';
export const SHARED_DIR = 'shared';
export const TASK_OWNED_DIR = 'taskowned';
const CHECKPOINT_DIR = /^chk-(0|[1-9][0-9]*)\/$/;

export const checkpointDirName = (checkpointId: number): string => `chk-${checkpointId}`;

/** A fresh savepoint directory name (Flink's `savepoint-<job prefix>-<random>`). */
export function savepointDirName(jobId: string): string {
  return `savepoint-${jobId.slice(0, 6)}-${randomBytes(6).toString('hex')}`;
}

export interface RecoveryResult {
  /** Completed checkpoints whose metadata reads, ascending. */
  readonly completed: CompletedCheckpoint[];
  /** Checkpoints with a _metadata file that does not read; they are not restorable. */
  readonly unreadable: { readonly checkpointId: number; readonly error: ErrorRecord }[];
}

export interface LatestRestorable {
  readonly checkpoint: CompletedCheckpoint | null;
  /** Newer checkpoints that failed verification, newest first. */
  readonly skipped: { readonly checkpointId: number; readonly error: ErrorRecord }[];
}

function checkId(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${what} must be a safe integer ≥ 0, got ${String(n)}`);
}

function checkEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `epoch must be an integer in 0..2^32-1, got ${String(epoch)}`);
}

type Layout = 'checkpoint' | 'savepoint';

/** Null when the handle may belong to checkpoint n in this layout, else why not. */
function layoutProblem(h: StateFileHandle, n: number, layout: Layout): string | null {
  const segments = h.path.split('/');
  const name = segments.at(-1)!;
  if (name.startsWith('_')) return `${h.path} is a reserved name`;
  const dir = segments.slice(0, -1).join('/');
  const ownDir = layout === 'checkpoint' ? checkpointDirName(n) : '';
  if (h.scope === 'exclusive') {
    if (dir !== ownDir) return `exclusive file ${h.path} is not in ${ownDir === '' ? 'the savepoint directory' : `${ownDir}/`}`;
    return h.checkpointId === n ? null : `exclusive file ${h.path} was written for checkpoint ${h.checkpointId}`;
  }
  const expected = h.scope === 'shared' ? SHARED_DIR : TASK_OWNED_DIR;
  if (dir !== expected) return `${h.scope} file ${h.path} is not in ${expected}/`;
  if (layout === 'savepoint' ? h.checkpointId !== n : h.checkpointId > n) return `${h.scope} file ${h.path} was written for checkpoint ${h.checkpointId}`;
  return null;
}

/** Validated, duplicates dropped; throws TROUPE_INVALID_ARGUMENT. */
function checkFiles(files: readonly StateFileHandle[], n: number, layout: Layout): StateFileHandle[] {
  if (!Array.isArray(files)) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'files must be an array of state handles');
  const byPath = new Map<string, StateFileHandle>();
  for (const h of files) {
    const problem = handleProblem(h) ?? layoutProblem(h, n, layout);
    if (problem !== null) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${layout} ${n}: ${problem}`, { details: { handle: h as unknown } });
    const seen = byPath.get(h.path);
    if (seen !== undefined && seen.sha256 !== h.sha256) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${layout} ${n}: two different files for ${h.path}`);
    if (seen === undefined) byPath.set(h.path, { path: h.path, scope: h.scope, checkpointId: h.checkpointId, bytes: h.bytes, sha256: h.sha256 });
  }
  return [...byPath.values()];
}

const sharedPieces = (files: readonly StateFileHandle[]): string[] => files.filter((f) => f.scope === 'shared').map((f) => f.path);

export class JobCheckpointStorage {
  readonly registry = new SharedStateRegistry();
  private chain: Promise<unknown> = Promise.resolve();
  private recovered: RecoveryResult | null = null;

  constructor(
    readonly store: CheckpointStore,
    readonly jobId: string,
  ) {
    checkSegment(jobId, 'job id');
  }

  // ---- fencing ----

  /** The newest registered epoch; 0 when none was. */
  async currentEpoch(): Promise<number> {
    const path = joinPath(this.jobId, EPOCH_FILE);
    const bytes = await this.store.get(path);
    if (bytes === undefined) return 0;
    return decodeFile(bytes, this.store.locate(path), { jobId: this.jobId, kind: 'epoch' }).header.epoch;
  }

  /** A new attempt of the job (JobMaster start, failover): older epochs are fenced from now on. */
  async registerEpoch(epoch: number): Promise<void> {
    checkEpoch(epoch);
    return this.exclusive(async () => {
      const current = await this.currentEpoch();
      if (epoch < current) throw fencedError('fenced', `job ${this.jobId}: cannot register epoch ${epoch}, epoch ${current} is registered`, { jobId: this.jobId, epoch, currentEpoch: current });
      if (epoch === current) return;
      await this.store.put(joinPath(this.jobId, EPOCH_FILE), encodeFile({ kind: 'epoch', jobId: this.jobId, checkpointId: 0, epoch }, new Uint8Array(0)).bytes);
    });
  }

  private async checkNotFenced(epoch: number, what: string): Promise<void> {
    const current = await this.currentEpoch();
    if (epoch < current) {
      throw fencedError('fenced', `${what} of job ${this.jobId}: epoch ${epoch} is older than the registered epoch ${current} (an earlier attempt)`, { jobId: this.jobId, epoch, currentEpoch: current });
    }
  }

  private async checkNotFinalized(metadataPath: string, what: string): Promise<void> {
    if ((await this.store.size(metadataPath)) !== undefined) throw fencedError('finalized', `${what} is already finalized (${this.store.locate(metadataPath)})`, { jobId: this.jobId, file: this.store.locate(metadataPath) });
  }

  // ---- task side ----

  /** The writer of one task attempt for checkpoint n (invariant 2). */
  writer(checkpointId: number, epoch: number): CheckpointWriter {
    checkId('checkpoint id', checkpointId);
    checkEpoch(epoch);
    const dir = checkpointDirName(checkpointId);
    const metadata = joinPath(this.jobId, dir, METADATA_FILE);
    const what = `checkpoint ${checkpointId}`;
    return new CheckpointWriter(
      {
        store: this.store,
        base: this.jobId,
        jobId: this.jobId,
        dirs: { exclusive: dir, shared: SHARED_DIR, 'task-owned': TASK_OWNED_DIR },
        fence: async () => {
          await this.checkNotFenced(epoch, what);
          await this.checkNotFinalized(metadata, `${what} of job ${this.jobId}`);
        },
      },
      checkpointId,
      epoch,
    );
  }

  /** Reads files of this job's checkpoints. */
  reader(): CheckpointReader {
    return new CheckpointReader(this.store, this.jobId, this.jobId);
  }

  // ---- JobMaster side ----

  /** Makes checkpoint n complete (invariant 1) and registers its shared pieces. */
  async finalize(checkpointId: number, epoch: number, input: FinalizeInput): Promise<CompletedCheckpoint> {
    checkId('checkpoint id', checkpointId);
    checkEpoch(epoch);
    if (typeof input?.timestamp !== 'number' || !Number.isFinite(input.timestamp)) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'finalize needs a finite timestamp');
    const files = checkFiles(input.files, checkpointId, 'checkpoint');
    return this.exclusive(async () => {
      await this.checkNotFenced(epoch, `finalizing checkpoint ${checkpointId}`);
      await this.ensureRecovered();
      await this.reader().checkPresent(files);
      const metadata: CheckpointMetadata = { kind: 'checkpoint', jobId: this.jobId, checkpointId, epoch, timestamp: input.timestamp, files, state: input.state ?? null };
      await this.putMetadata(joinPath(this.jobId, checkpointDirName(checkpointId), METADATA_FILE), metadata, `checkpoint ${checkpointId} of job ${this.jobId}`);
      this.registry.register(checkpointId, sharedPieces(files));
      return { ...metadata, base: this.jobId };
    });
  }

  /** Gives up a checkpoint that was not finalized: removes chk-<n>/. */
  async abort(checkpointId: number): Promise<void> {
    checkId('checkpoint id', checkpointId);
    return this.exclusive(async () => {
      const dir = joinPath(this.jobId, checkpointDirName(checkpointId));
      await this.checkNotFinalized(joinPath(dir, METADATA_FILE), `checkpoint ${checkpointId} of job ${this.jobId} (discard it instead of aborting)`);
      await this.store.removeTree(dir);
    });
  }

  /** Ids of the checkpoints with a _metadata file, ascending. */
  async listCompleted(): Promise<number[]> {
    const ids: number[] = [];
    for (const entry of await this.store.list(this.jobId)) {
      const m = CHECKPOINT_DIR.exec(entry);
      if (m === null) continue;
      const id = Number(m[1]);
      if ((await this.store.size(joinPath(this.jobId, checkpointDirName(id), METADATA_FILE))) !== undefined) ids.push(id);
    }
    return ids.sort((a, b) => a - b);
  }

  /** The checkpoint's metadata, with every file checked present at its size (invariant 5). */
  async load(checkpointId: number): Promise<CompletedCheckpoint> {
    const checkpoint = await this.loadMetadata(checkpointId);
    await this.reader().checkPresent(checkpoint.files);
    return checkpoint;
  }

  /** Reads every file of the checkpoint; throws naming the first one that fails. */
  async verify(checkpoint: CompletedCheckpoint): Promise<void> {
    await new CheckpointReader(this.store, checkpoint.base, checkpoint.jobId).verifyAll(checkpoint.files);
  }

  /** The newest checkpoint that loads and verifies completely, and why newer ones did not. */
  async latestRestorable(): Promise<LatestRestorable> {
    const skipped: { checkpointId: number; error: ErrorRecord }[] = [];
    const ids = await this.listCompleted();
    for (let i = ids.length - 1; i >= 0; i--) {
      const id = ids[i]!;
      try {
        const checkpoint = await this.load(id);
        await this.verify(checkpoint);
        return { checkpoint, skipped };
      } catch (error) {
        skipped.push({ checkpointId: id, error: toErrorRecord(error, 'TROUPE_CHECKPOINT_CORRUPT') });
      }
    }
    return { checkpoint: null, skipped };
  }

  /** Rebuilds the shared-state registry from the completed checkpoints in the store (invariant 3). */
  async recover(): Promise<RecoveryResult> {
    return this.exclusive(() => this.recoverLocked());
  }

  /** Deletes a completed checkpoint and the shared pieces only it referenced (invariant 4); returns those pieces. */
  async discard(checkpointId: number): Promise<string[]> {
    checkId('checkpoint id', checkpointId);
    return this.exclusive(async () => {
      await this.ensureRecovered();
      return this.discardLocked(checkpointId);
    });
  }

  /** Keeps the newest `count` completed checkpoints and discards the rest; returns the discarded ids. */
  async retainLatest(count: number): Promise<number[]> {
    if (!Number.isSafeInteger(count) || count < 1) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `retained checkpoints must be an integer ≥ 1, got ${String(count)}`);
    return this.exclusive(async () => {
      await this.ensureRecovered();
      const ids = await this.listCompleted();
      const dropped = ids.slice(0, Math.max(0, ids.length - count));
      for (const id of dropped) await this.discardLocked(id);
      return dropped;
    });
  }

  /**
   * Deletes state files that no completed checkpoint uses (the coordinator's 'rejected-ack' and
   * 'aborted' discards): exclusive files of checkpoints without _metadata, and shared pieces no
   * completed checkpoint references (invariant 7). Task-owned files and files of completed
   * checkpoints are left alone. Idempotent; returns the removed paths.
   */
  async discardHandles(handles: readonly StateFileHandle[]): Promise<string[]> {
    for (const h of handles) {
      const problem = handleProblem(h);
      if (problem !== null) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `state handle: ${problem}`);
    }
    return this.exclusive(async () => {
      await this.ensureRecovered();
      const removed: string[] = [];
      for (const h of handles) {
        if (h.scope === 'task-owned' || layoutProblem(h, h.checkpointId, 'checkpoint') !== null) continue;
        if (h.scope === 'shared' && this.registry.refCount(h.path) > 0) continue;
        if (h.scope === 'exclusive' && (await this.store.size(joinPath(this.jobId, checkpointDirName(h.checkpointId), METADATA_FILE))) !== undefined) continue;
        // only the very file the handle pins (paths are create-only, but a removed one can be recreated)
        const path = joinPath(this.jobId, h.path);
        const bytes = await this.store.get(path);
        if (bytes === undefined) continue;
        try {
          if (decodeFile(bytes, this.store.locate(path)).sha256 !== h.sha256) continue;
        } catch {
          continue;
        }
        if (await this.store.remove(path)) removed.push(h.path);
      }
      return removed;
    });
  }

  /**
   * Removes what no checkpoint will use (invariant 7): chk-<m>/ without _metadata for m below
   * `belowCheckpointId`, and unreferenced shared pieces written for such checkpoints. Pass the
   * oldest checkpoint still in flight (or the next id). Returns the removed paths.
   */
  async collectGarbage(belowCheckpointId: number): Promise<string[]> {
    checkId('checkpoint id', belowCheckpointId);
    return this.exclusive(async () => {
      await this.ensureRecovered();
      const removed: string[] = [];
      for (const entry of await this.store.list(this.jobId)) {
        const m = CHECKPOINT_DIR.exec(entry);
        if (m === null || Number(m[1]) >= belowCheckpointId) continue;
        const dir = joinPath(this.jobId, entry.slice(0, -1));
        if ((await this.store.size(joinPath(dir, METADATA_FILE))) !== undefined) continue;
        await this.store.removeTree(dir);
        removed.push(entry.slice(0, -1));
      }
      for (const name of await this.store.list(joinPath(this.jobId, SHARED_DIR))) {
        if (name.endsWith('/')) continue;
        const piece = joinPath(SHARED_DIR, name);
        if (this.registry.refCount(piece) > 0) continue;
        const path = joinPath(this.jobId, piece);
        const bytes = await this.store.get(path);
        if (bytes === undefined) continue;
        let writtenFor = -1;
        try {
          writtenFor = decodeFile(bytes, this.store.locate(path), { jobId: this.jobId, kind: 'shared' }).header.checkpointId;
        } catch {
          // unreadable and unreferenced: garbage either way
        }
        if (writtenFor >= belowCheckpointId) continue;
        await this.store.remove(path);
        removed.push(piece);
      }
      return removed;
    });
  }

  // ---- savepoints (invariant 6) ----

  /** The writer of one task attempt for a savepoint into `dir` of `store`. */
  savepointWriter(store: CheckpointStore, dir: string, checkpointId: number, epoch: number): CheckpointWriter {
    checkPath(dir);
    checkId('checkpoint id', checkpointId);
    checkEpoch(epoch);
    const metadata = joinPath(dir, METADATA_FILE);
    return new CheckpointWriter(
      {
        store,
        base: dir,
        jobId: this.jobId,
        dirs: { exclusive: '', shared: SHARED_DIR, 'task-owned': TASK_OWNED_DIR },
        fence: async () => {
          await this.checkNotFenced(epoch, `savepoint ${dir}`);
          if ((await store.size(metadata)) !== undefined) throw fencedError('finalized', `savepoint ${store.locate(dir)} is already finalized`, { jobId: this.jobId, file: store.locate(metadata) });
        },
      },
      checkpointId,
      epoch,
    );
  }

  /** Completes a savepoint: every file it references lies inside `dir`. */
  async finalizeSavepoint(store: CheckpointStore, dir: string, checkpointId: number, epoch: number, input: FinalizeInput): Promise<CompletedCheckpoint> {
    checkPath(dir);
    checkId('checkpoint id', checkpointId);
    checkEpoch(epoch);
    if (typeof input?.timestamp !== 'number' || !Number.isFinite(input.timestamp)) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'finalize needs a finite timestamp');
    const files = checkFiles(input.files, checkpointId, 'savepoint');
    await this.checkNotFenced(epoch, `finalizing savepoint ${dir}`);
    await new CheckpointReader(store, dir, this.jobId).checkPresent(files);
    const metadata: CheckpointMetadata = { kind: 'savepoint', jobId: this.jobId, checkpointId, epoch, timestamp: input.timestamp, files, state: input.state ?? null };
    await this.putMetadataIn(store, joinPath(dir, METADATA_FILE), metadata, `savepoint ${store.locate(dir)}`);
    return { ...metadata, base: dir };
  }

  // ---- internals ----

  private async loadMetadata(checkpointId: number): Promise<CompletedCheckpoint> {
    checkId('checkpoint id', checkpointId);
    const path = joinPath(this.jobId, checkpointDirName(checkpointId), METADATA_FILE);
    const file = this.store.locate(path);
    const bytes = await this.store.get(path);
    if (bytes === undefined) throw new TroupeError('TROUPE_CHECKPOINT_NOT_FOUND', `job ${this.jobId} has no completed checkpoint ${checkpointId} (no ${file})`, { details: { file, reason: 'not-found' } });
    const metadata = decodeMetadata(bytes, file, { jobId: this.jobId, checkpointId });
    if (metadata.kind !== 'checkpoint') throw corruptFile(file, 'bad-metadata', `is the metadata of a ${metadata.kind}`);
    for (const h of metadata.files) {
      const problem = layoutProblem(h, checkpointId, 'checkpoint');
      if (problem !== null) throw corruptFile(file, 'bad-metadata', problem);
    }
    return { ...metadata, base: this.jobId };
  }

  private async putMetadata(path: string, metadata: CheckpointMetadata, what: string): Promise<void> {
    await this.putMetadataIn(this.store, path, metadata, what);
  }

  private async putMetadataIn(store: CheckpointStore, path: string, metadata: CheckpointMetadata, what: string): Promise<void> {
    const bytes = Buffer.from(encodeMetadata(metadata));
    if (await store.put(path, bytes, { exclusive: true })) return;
    const existing = await store.get(path);
    if (existing === undefined || !bytes.equals(existing)) throw fencedError('finalized', `${what} is already finalized with other content (${store.locate(path)})`, { jobId: this.jobId, file: store.locate(path) });
  }

  private async recoverLocked(): Promise<RecoveryResult> {
    const completed: CompletedCheckpoint[] = [];
    const unreadable: RecoveryResult['unreadable'] = [];
    for (const id of await this.listCompleted()) {
      try {
        const checkpoint = await this.loadMetadata(id);
        this.registry.register(id, sharedPieces(checkpoint.files));
        completed.push(checkpoint);
      } catch (error) {
        unreadable.push({ checkpointId: id, error: toErrorRecord(error, 'TROUPE_CHECKPOINT_CORRUPT') });
      }
    }
    this.recovered = { completed, unreadable };
    return this.recovered;
  }

  private async ensureRecovered(): Promise<void> {
    if (this.recovered === null) await this.recoverLocked();
  }

  private async discardLocked(checkpointId: number): Promise<string[]> {
    const dir = joinPath(this.jobId, checkpointDirName(checkpointId));
    await this.store.remove(joinPath(dir, METADATA_FILE));
    const dead = this.registry.unregister(checkpointId);
    await this.store.removeTree(dir);
    for (const piece of dead) await this.store.remove(joinPath(this.jobId, piece));
    return dead;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

/** Opens a savepoint wherever it now lies: its metadata, with every file checked present. */
export async function openSavepoint(store: CheckpointStore, dir: string): Promise<CompletedCheckpoint> {
  checkPath(dir);
  const path = joinPath(dir, METADATA_FILE);
  const file = store.locate(path);
  const bytes = await store.get(path);
  if (bytes === undefined) throw new TroupeError('TROUPE_CHECKPOINT_NOT_FOUND', `${store.locate(dir)} is not a savepoint (no ${file})`, { details: { file, reason: 'not-found' } });
  const metadata = decodeMetadata(bytes, file);
  if (metadata.kind !== 'savepoint') throw corruptFile(file, 'bad-metadata', `is the metadata of a ${metadata.kind}, not of a savepoint`);
  for (const h of metadata.files) {
    const problem = layoutProblem(h, metadata.checkpointId, 'savepoint');
    if (problem !== null) throw corruptFile(file, 'bad-metadata', problem);
  }
  const savepoint = { ...metadata, base: dir };
  await new CheckpointReader(store, dir, metadata.jobId).checkPresent(savepoint.files);
  return savepoint;
}

/** Removes a savepoint directory with everything in it. */
export async function discardSavepoint(store: CheckpointStore, dir: string): Promise<void> {
  checkPath(dir);
  await store.removeTree(dir);
}

/** A reader for the files of a completed checkpoint or savepoint (what a restoring task needs). */
export function checkpointReader(store: CheckpointStore, checkpoint: Pick<CompletedCheckpoint, 'base' | 'jobId'>): CheckpointReader {
  return new CheckpointReader(store, checkpoint.base, checkpoint.jobId);
}
