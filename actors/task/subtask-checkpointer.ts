/**
 * The checkpoint side of one subtask (Flink's SubtaskCheckpointCoordinator): takes the synchronous
 * part of a snapshot when the task asks (at a barrier, or at a source's trigger), uploads in the
 * background while the task goes on processing, and acknowledges or declines to the JobMaster.
 *
 * Invariants:
 *  1. The synchronous part runs inside the task's turn, between two records: keyed state is captured
 *     (state/backend.ts, contract 2), source positions are read, sinks seal their transaction; only
 *     then is the barrier forwarded. Later records change nothing in this snapshot.
 *  2. Uploads run one after the other in checkpoint order, so an incremental snapshot always builds
 *     on the handle of the capture just before it.
 *  3. Every checkpoint the task takes part in ends in exactly one ack or one decline.
 *  5. An upload of a checkpoint that ended (aborted, or subsumed by a later completion) stops
 *     waiting at once — a sink's pre-commit that never answers cannot hold up later checkpoints.
 *  4. A delta is uploaded only on top of the very capture it was taken after (its base), and only
 *     while no checkpoint whose pieces that chain holds was aborted (the JobMaster deletes the pieces
 *     of an aborted checkpoint that no completed one references); otherwise the task declines it.
 *     After a savepoint (its capture reset change tracking but its files live elsewhere), a failed
 *     or given-up upload, or an abort touching the chain, the next capture is full.
 */
import { dirname, basename } from 'node:path';
import { toErrorRecord, TroupeError, type ErrorRecord } from '../../core/errors.js';
import type { KeyedStateBackend, KeyedStateCapture, StateBackendConfig } from '../../state/backend.js';
import { openCheckpointStore } from '../../state/checkpoint-storage/open-store.js';
import { JobCheckpointStorage } from '../../state/checkpoint-storage/job-checkpoint-storage.js';
import type { CheckpointWriter } from '../../state/checkpoint-storage/checkpoint-writer.js';
import type { CheckpointStore } from '../../state/checkpoint-storage/checkpoint-store.js';
import { CheckpointReader } from '../../state/checkpoint-storage/checkpoint-reader.js';
import { needsFull, restoreKeyedState, writeKeyedSnapshot, type KeyedStateHandle } from '../../state/snapshot/keyed-snapshot.js';
import type { OperatorSubtaskState, TaskStateSnapshot } from '../protocol/job-master.js';
import type { TaskCheckpointing, TaskDeploymentDescriptor, TaskRestore } from '../protocol/deployment.js';

export const DEFAULT_MATERIALIZE_EVERY = 10;

/** What the task captured synchronously for one checkpoint. */
export interface SyncSnapshot {
  readonly keyed: { readonly operatorId: string; readonly capture: KeyedStateCapture } | null;
  /** Operator list state by operator id: ready (sources) or finishing a pre-commit (sinks). */
  readonly operatorState: ReadonlyArray<{ readonly operatorId: string; readonly state: readonly unknown[] | Promise<readonly unknown[]> }>;
}

export interface CheckpointerEnv {
  acknowledge(checkpointId: number, state: TaskStateSnapshot): void;
  decline(checkpointId: number, reason: ErrorRecord): void;
  /** Opens the store rooted at a directory (default: the file system). */
  openStore?(root: string): CheckpointStore;
}

export class SubtaskCheckpointer {
  private storage: JobCheckpointStorage | null = null;
  /** The last uploaded checkpoint capture, and the checkpoints whose pieces its chain holds. */
  private previous: { readonly handle: KeyedStateHandle; readonly checkpointId: number; readonly chain: readonly number[] } | null = null;
  private forceFull = false;
  private uploads: Promise<void> = Promise.resolve();
  /** The last checkpoint capture taken (a delta's base), and each pending delta's base (invariant 4). */
  private lastCapture: number | null = null;
  private readonly bases = new Map<number, number>();
  /** Aborted checkpoints at or after the start of the current chain. */
  private readonly aborted = new Set<number>();
  private closed = false;
  /** Ends the wait of a running upload (invariant 5), by checkpoint id. */
  private readonly abandon = new Map<number, (reason: Error) => void>();

  constructor(
    private readonly tdd: TaskDeploymentDescriptor,
    private readonly config: TaskCheckpointing,
    private readonly backendConfig: StateBackendConfig,
    private readonly env: CheckpointerEnv,
  ) {}

  /** Whether the next checkpoint's keyed capture must be full (invariant 4). */
  wantsFull(savepoint: string | undefined): boolean {
    if (savepoint !== undefined || this.forceFull) return true;
    if (this.lastCapture === null) return true;
    return needsFull(this.previous?.handle ?? null, { incremental: this.backendConfig.incremental, materializeEvery: this.backendConfig.materializeEvery ?? DEFAULT_MATERIALIZE_EVERY });
  }

  /** Captures keyed state for checkpoint n (sync), choosing full or incremental. */
  capture(backend: KeyedStateBackend, checkpointId: number, savepoint: string | undefined): KeyedStateCapture {
    const full = this.wantsFull(savepoint);
    const capture = backend.capture(full);
    if (savepoint !== undefined) {
      // the savepoint's capture reset change tracking: no delta may follow it
      this.forceFull = true;
      this.lastCapture = null;
    } else {
      this.forceFull = false;
      if (!capture.full) this.bases.set(checkpointId, this.lastCapture!);
      this.lastCapture = checkpointId;
    }
    return capture;
  }

  /** Uploads what was captured and acks, after the uploads of earlier checkpoints (invariant 2). */
  complete(checkpointId: number, savepoint: string | undefined, snapshot: SyncSnapshot): void {
    let giveUp: (reason: Error) => void = () => undefined;
    const abandoned = new Promise<never>((_, reject) => (giveUp = reject));
    abandoned.catch(() => undefined);
    this.abandon.set(checkpointId, giveUp);
    const within = <T>(work: Promise<T>): Promise<T> => Promise.race([work, abandoned]);
    const run = async (): Promise<void> => {
      if (this.closed) throw new TroupeError('TROUPE_CHECKPOINT_DECLINED', `task ${this.tdd.attemptId} is shutting down`);
      const operators: Record<string, OperatorSubtaskState> = {};
      if (snapshot.keyed !== null) {
        const writer = this.writer(checkpointId, savepoint);
        const isSavepoint = savepoint !== undefined;
        const delta = !isSavepoint && !snapshot.keyed.capture.full;
        const base = this.bases.get(checkpointId);
        this.bases.delete(checkpointId);
        const previous = this.previous;
        if (delta && (previous === null || previous.checkpointId !== base || previous.chain.some((id) => this.aborted.has(id)))) {
          throw new TroupeError('TROUPE_CHECKPOINT_DECLINED', `its delta builds on checkpoint ${String(base)}, whose pieces are not all kept (upload failed or checkpoint aborted)`);
        }
        const handle = await within(writeKeyedSnapshot(writer, snapshot.keyed.capture, delta ? previous!.handle : null, { operatorId: snapshot.keyed.operatorId, subtask: this.tdd.subtask, checkpointId }));
        if (!isSavepoint) this.previous = { handle, checkpointId, chain: delta ? [...previous!.chain, checkpointId] : [checkpointId] };
        operators[snapshot.keyed.operatorId] = { keyed: handle };
      }
      for (const { operatorId, state } of snapshot.operatorState) {
        const list = await within(Promise.resolve(state));
        operators[operatorId] = { ...operators[operatorId], operatorState: [...list] };
      }
      return this.env.acknowledge(checkpointId, { vertex: this.tdd.vertex.id, subtask: this.tdd.subtask, operators });
    };
    this.uploads = this.uploads.then(run).finally(() => this.abandon.delete(checkpointId)).catch((error: unknown) => {
      snapshot.keyed?.capture.release();
      if (savepoint === undefined) this.forceFull = true;
      const cause = toErrorRecord(error, 'TROUPE_CHECKPOINT_DECLINED');
      this.env.decline(checkpointId, {
        code: 'TROUPE_CHECKPOINT_DECLINED',
        message: `task ${this.tdd.attemptId} declined ${savepoint === undefined ? 'checkpoint' : 'savepoint'} ${checkpointId}: ${cause.message}`,
        cause: { name: cause.code, message: cause.message },
        ...(cause.details !== undefined ? { details: cause.details } : {}),
      });
    });
  }

  /** A checkpoint this task took part in ended. */
  onOutcome(checkpointId: number, outcome: 'complete' | 'aborted'): void {
    if (outcome === 'aborted') {
      // its new pieces go unless a completed checkpoint references them: chains holding them end
      this.aborted.add(checkpointId);
      if (this.previous === null || this.previous.chain.includes(checkpointId) || this.lastCapture === checkpointId) this.forceFull = true;
    }
    const chainStart = this.previous?.chain[0] ?? Infinity;
    for (const id of this.aborted) if (id < chainStart && id !== checkpointId) this.aborted.delete(id);
    for (const [id, giveUp] of this.abandon) {
      if (id === checkpointId ? outcome === 'aborted' : id < checkpointId && outcome === 'complete') giveUp(new TroupeError('TROUPE_CHECKPOINT_DECLINED', `checkpoint ${id} ended before this task's upload finished`));
    }
  }

  /** Stops waiting for running uploads (a hung pre-commit must not hold up the task's end); later checkpoints are declined. */
  async close(): Promise<void> {
    this.closed = true;
    for (const giveUp of this.abandon.values()) giveUp(new TroupeError('TROUPE_CHECKPOINT_DECLINED', `task ${this.tdd.attemptId} ended`));
    await this.uploads;
  }

  private jobStorage(): JobCheckpointStorage {
    return (this.storage ??= new JobCheckpointStorage(this.openStore(this.config.storage), this.tdd.jobId));
  }

  private openStore(root: string): CheckpointStore {
    return this.env.openStore?.(root) ?? openCheckpointStore(root);
  }

  private writer(checkpointId: number, savepoint: string | undefined): CheckpointWriter {
    if (savepoint === undefined) return this.jobStorage().writer(checkpointId, this.config.epoch);
    return this.jobStorage().savepointWriter(this.openStore(dirname(savepoint)), basename(savepoint), checkpointId, this.config.epoch);
  }
}

/** Restores a keyed backend from the handles of a TaskRestore (before the operators open). */
export async function restoreKeyed(restore: TaskRestore, handles: readonly KeyedStateHandle[], backend: KeyedStateBackend, openStore?: (root: string) => CheckpointStore): Promise<number> {
  const store = openStore?.(restore.root) ?? openCheckpointStore(restore.root);
  return restoreKeyedState(new CheckpointReader(store, restore.base, restore.jobId), handles, backend);
}
