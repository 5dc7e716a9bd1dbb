/**
 * Exactly-once sinks by two-phase commit (Flink's TwoPhaseCommitSinkFunction), driven by the
 * checkpoint hooks of `SinkWriter` (sink.ts). A sink supplies a `TransactionalWriter` (begin, write,
 * pre-commit, commit, abort against its external system); `TwoPhaseCommitSinkWriter` runs the protocol.
 *
 * Invariants (tests cite them):
 *  1. One transaction per checkpoint interval per subtask: `snapshotState(n)` seals the current
 *     transaction and begins the next before it returns; every later write goes to the new one.
 *  2. The list state of checkpoint n has one plain-JSON element per transaction sealed at or before n
 *     and not yet known committed, enough to commit it from any subtask (rescale moves elements).
 *     Empty transactions are never pre-committed nor listed.
 *  3. `notifyCheckpointComplete(n)` commits the pending transactions sealed at or before n, in seal
 *     order; one leaves the pending list only once its commit succeeded. An aborted checkpoint changes
 *     nothing: its transactions are committed by a later completion.
 *  4. Commit is idempotent: after a restart, `open()` recovers and commits every restored transaction
 *     again, some of which the crashed attempt may have committed already.
 *  5. Transaction ids are `<job>_<scope>_<subtask>_<attempt>_<counter>`; job and scope are sanitized
 *     to [A-Za-z0-9-] (a hash suffix keeps distinct raw names distinct), so an id parses back. The
 *     attempt is job-global and grows with every restart, so ids never repeat within a job.
 *  6. Leftovers of this job and scope that no state will ever commit are aborted only when certainly
 *     orphaned, and each subtask handles the old subtask indices ≡ its own mod parallelism (so every
 *     old index has exactly one cleaner, at any parallelism):
 *     a. in `open()`: unsealed (in-progress) transactions of older attempts: no state ever names them;
 *     b. after the first checkpoint this writer snapshotted completes: sealed transactions of older
 *        attempts. Every subtask opened (recovering its restored transactions) before it acknowledged
 *        that checkpoint, and later restores start from it or a newer one, so none will be committed.
 *  7. A failed write or pre-commit fails the writer for good: the outcome of that transaction is
 *     unknown, so nothing more is sealed or committed; the job restarts from the last checkpoint.
 *  8. Hooks run one at a time in call order (one queue per writer): a commit never overlaps the
 *     pre-commit of a later transaction, nor the recovery in `open()`.
 *
 * Without checkpointing nothing is snapshotted: the whole input is one transaction per subtask, made
 * visible by `flush()` at end of input (an unbounded job without checkpoints never commits, as in
 * Flink). `flush()` always pre-commits and commits everything held: the job is finishing. A crash
 * after that flush but before the job ends replays from the last checkpoint and duplicates the
 * flushed records (Flink 1.14's final checkpoint closes that gap; Troupe has none yet).
 */
import { createHash } from 'node:crypto';
import { TroupeError } from '../../../core/errors.js';
import type { Sink, SinkContext, SinkWriter } from '../sink.js';

/** What a sink does against its external system; one instance per parallel subtask. */
export abstract class TransactionalWriter<T, TXN> {
  /** Tags list-state elements, so a state written by another kind of sink is refused on restore. */
  abstract readonly kind: string;
  /** Connects (create directories, open databases); runs before any recovery. */
  async open(): Promise<void> {}
  /** Synchronous: `snapshotState` begins the next transaction before it returns (invariant 1). */
  abstract beginTransaction(id: string): TXN;
  abstract write(txn: TXN, value: T): void;
  /** True when nothing was written: the transaction is dropped instead of pre-committed. */
  abstract isEmpty(txn: TXN): boolean;
  /** Makes the transaction durable but invisible. */
  abstract preCommit(txn: TXN): Promise<void>;
  /** Makes a pre-committed transaction visible. Must be idempotent (invariant 4). */
  abstract commit(txn: TXN): Promise<void>;
  /** Discards the transaction's data; a missing piece is not an error. */
  abstract abort(txn: TXN): Promise<void>;
  async recoverAndCommit(txn: TXN): Promise<void> {
    await this.commit(txn);
  }
  async recoverAndAbort(txn: TXN): Promise<void> {
    await this.abort(txn);
  }
  /** Plain JSON naming everything needed to commit a pre-committed transaction from any subtask. */
  abstract toState(txn: TXN): unknown;
  /** Inverse of `toState`; throws TROUPE_CHECKPOINT_CORRUPT on a malformed element. */
  abstract fromState(id: string, state: unknown): TXN;
  /** Transactions with ids starting `${prefix}_` that left data behind (the base picks the orphans). */
  async listLeftovers(_prefix: string): Promise<Array<Leftover<TXN>>> {
    return [];
  }
  async close(): Promise<void> {}
}

export interface Leftover<TXN> {
  readonly id: string;
  /** Pre-committed (sealed) or still in progress. */
  readonly sealed: boolean;
  readonly txn: TXN;
}

/** One list-state element (invariant 2). */
export interface PendingTransactionState {
  readonly v: 1;
  readonly kind: string;
  readonly id: string;
  readonly checkpointId: number;
  readonly txn: unknown;
}

export interface TransactionIdParts {
  /** `<job>_<scope>` */
  readonly prefix: string;
  readonly subtask: number;
  readonly attempt: number;
  readonly counter: number;
}

/** A 2PC sink: `createWriter` wraps the sink's transactional writer in the protocol driver. */
export abstract class TwoPhaseCommitSink<T, TXN> implements Sink<T> {
  protected abstract createTransactionalWriter(ctx: SinkContext): TransactionalWriter<T, TXN>;
  /** Part of every transaction id: what must differ between sinks sharing one external system. */
  protected transactionScope(ctx: SinkContext): string {
    return ctx.operatorName;
  }
  createWriter(ctx: SinkContext): TwoPhaseCommitSinkWriter<T, TXN> {
    return new TwoPhaseCommitSinkWriter(ctx, this.createTransactionalWriter(ctx), this.transactionScope(ctx));
  }
}

interface Held<TXN> {
  readonly id: string;
  readonly seq: number;
  readonly txn: TXN;
}
interface Sealed<TXN> extends Held<TXN> {
  readonly checkpointId: number;
}

export class TwoPhaseCommitSinkWriter<T, TXN> implements SinkWriter<T> {
  /** `<job>_<scope>`: every id of this writer starts with it and '_'. */
  readonly idPrefix: string;
  private current: Held<TXN> | null = null;
  private readonly pending: Array<Sealed<TXN>> = [];
  private counter = 0;
  private firstSnapshot: number | undefined;
  private sealedLeftoversCleaned = false;
  private failure: Error | undefined = undefined;
  private readonly restoredIds = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: SinkContext,
    private readonly txns: TransactionalWriter<T, TXN>,
    scope: string,
  ) {
    this.idPrefix = transactionIdPrefix(ctx.jobId, scope);
  }

  /** Ids of the transactions sealed and not yet committed, in seal order. */
  get pendingIds(): string[] {
    return this.pending.map((p) => p.id);
  }

  open(): Promise<void> {
    return this.run(async () => {
      await this.txns.open();
      const restored = (this.ctx.restoredState ?? []).map((e) => parseElement(e, this.txns.kind));
      restored.sort((a, b) => a.checkpointId - b.checkpointId);
      for (const element of restored) {
        await this.txns.recoverAndCommit(this.txns.fromState(element.id, element.txn));
        this.restoredIds.add(element.id);
      }
      await this.abortLeftovers(false);
    });
  }

  write(value: T): void {
    this.throwIfFailed();
    const current = (this.current ??= this.begin());
    try {
      this.txns.write(current.txn, value);
    } catch (error) {
      throw (this.failure = asError(error));
    }
  }

  snapshotState(checkpointId: number): Promise<readonly unknown[]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const sealed = this.seal(checkpointId);
    // Only transactions sealed up to now: a later snapshot may seal more before this one resolves.
    const boundary = this.counter;
    this.current = this.begin();
    this.firstSnapshot ??= checkpointId;
    return this.run(async () => {
      this.throwIfFailed();
      if (sealed !== null) await this.preCommit(sealed);
      return this.pending.filter((p) => p.seq < boundary).map((p) => this.element(p));
    });
  }

  notifyCheckpointComplete(checkpointId: number): Promise<void> {
    return this.run(async () => {
      this.throwIfFailed();
      await this.commitPending(checkpointId);
      if (!this.sealedLeftoversCleaned && this.firstSnapshot !== undefined && checkpointId >= this.firstSnapshot) {
        await this.abortLeftovers(true);
        this.sealedLeftoversCleaned = true;
      }
    });
  }

  /** Invariant 3: the transactions stay pending. */
  notifyCheckpointAborted(_checkpointId: number): void {}

  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const sealed = this.seal(Number.MAX_SAFE_INTEGER);
    return this.run(async () => {
      this.throwIfFailed();
      if (sealed !== null) await this.preCommit(sealed);
      await this.commitPending(Number.MAX_SAFE_INTEGER);
    });
  }

  /** Aborts the open transaction only: pending ones are durable and a restore may still commit them. */
  close(): Promise<void> {
    const open = this.current;
    this.current = null;
    return this.run(async () => {
      try {
        if (open !== null) await this.txns.abort(open.txn);
      } finally {
        await this.txns.close();
      }
    });
  }

  private begin(): Held<TXN> {
    const seq = this.counter++;
    const id = `${this.idPrefix}_${this.ctx.subtaskIndex}_${this.ctx.attempt}_${seq}`;
    return { id, seq, txn: this.txns.beginTransaction(id) };
  }

  /** Takes the open transaction out; pending when it holds data (invariant 2). */
  private seal(checkpointId: number): Sealed<TXN> | null {
    const held = this.current;
    this.current = null;
    if (held === null || this.txns.isEmpty(held.txn)) return null;
    const sealed = { ...held, checkpointId };
    this.pending.push(sealed);
    return sealed;
  }

  private async preCommit(sealed: Sealed<TXN>): Promise<void> {
    try {
      await this.txns.preCommit(sealed.txn);
    } catch (error) {
      throw (this.failure = asError(error));
    }
  }

  private async commitPending(upToCheckpoint: number): Promise<void> {
    while (this.pending.length > 0 && this.pending[0]!.checkpointId <= upToCheckpoint) {
      try {
        await this.txns.commit(this.pending[0]!.txn);
      } catch (error) {
        throw asError(error); // the transaction stays pending: a later completion retries it
      }
      this.pending.shift();
    }
  }

  /** Invariant 6. */
  private async abortLeftovers(sealed: boolean): Promise<void> {
    const { attempt, parallelism, subtaskIndex } = this.ctx;
    for (const leftover of await this.txns.listLeftovers(this.idPrefix)) {
      if (leftover.sealed !== sealed || this.restoredIds.has(leftover.id)) continue;
      const parts = parseTransactionId(leftover.id);
      if (parts === undefined || parts.prefix !== this.idPrefix) continue;
      if (parts.attempt >= attempt || parts.subtask % parallelism !== subtaskIndex) continue;
      await this.txns.recoverAndAbort(leftover.txn);
    }
  }

  private element(p: Sealed<TXN>): PendingTransactionState {
    return { v: 1, kind: this.txns.kind, id: p.id, checkpointId: p.checkpointId, txn: this.txns.toState(p.txn) };
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private run<R>(op: () => Promise<R>): Promise<R> {
    const result = this.queue.then(op);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

const ID_PART = /^[A-Za-z0-9-]+$/;

/** `<job>_<scope>` with both parts sanitized (invariant 5). */
export function transactionIdPrefix(jobId: string, scope: string): string {
  return `${sanitizeIdPart(jobId)}_${sanitizeIdPart(scope)}`;
}

/** Keeps [A-Za-z0-9-]; a changed or truncated name gets a hash of the raw name appended. */
export function sanitizeIdPart(raw: string, maxLength = 40): string {
  if (raw.length <= maxLength && ID_PART.test(raw)) return raw;
  const clean = raw
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, maxLength);
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return clean === '' ? hash : `${clean}-${hash}`;
}

export function parseTransactionId(id: string): TransactionIdParts | undefined {
  const parts = id.split('_');
  if (parts.length !== 5) return undefined;
  const [job, scope, subtask, attempt, counter] = parts as [string, string, string, string, string];
  if (!ID_PART.test(job) || !ID_PART.test(scope)) return undefined;
  if (![subtask, attempt, counter].every((n) => /^\d+$/.test(n))) return undefined;
  return { prefix: `${job}_${scope}`, subtask: Number(subtask), attempt: Number(attempt), counter: Number(counter) };
}

function parseElement(element: unknown, kind: string): PendingTransactionState {
  const e = element as Partial<PendingTransactionState> | null;
  const ok =
    typeof e === 'object' && e !== null && e.v === 1 && typeof e.id === 'string' && parseTransactionId(e.id) !== undefined && typeof e.checkpointId === 'number';
  if (!ok) throw new TroupeError('TROUPE_CHECKPOINT_CORRUPT', `restored sink state holds an element that is not a pending transaction: ${preview(element)}`);
  if (e.kind !== kind) {
    throw new TroupeError('TROUPE_CHECKPOINT_CORRUPT', `restored sink state holds a '${String(e.kind)}' transaction (${e.id}) but this sink commits '${kind}' transactions`);
  }
  return e as PendingTransactionState;
}

/** Coded errors pass as they are; file-system and database errors become TROUPE_SINK_FAILED. */
function asError(thrown: unknown): Error {
  if (thrown instanceof TroupeError) return thrown;
  const cause = thrown instanceof Error ? { name: thrown.name, message: thrown.message, ...(thrown.stack !== undefined ? { stack: thrown.stack } : {}) } : { name: 'Error', message: String(thrown) };
  return new TroupeError('TROUPE_SINK_FAILED', `sink transaction failed: ${cause.message}`, { cause });
}

function preview(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 200);
  } catch {
    return String(value);
  }
}
