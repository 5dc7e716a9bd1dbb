/**
 * The CheckpointCoordinator of a JobMaster (Flink 1.5's), pure: `stepCoordinator(state, event)` →
 * `{ state, effects }`. Time arrives inside events (`now`), timers are the actor's: after every step
 * it arms one timer for `nextTickAt(state)` and delivers `tick` when it fires.
 *
 *   idle ──tasks-changed──▶ running ──job-ended──▶ ended
 *    ▲ ◀── suspend / fail-job ─┘  (running ──tasks-changed──▶ running: pending aborted, ids go on)
 *
 *   one checkpoint:  acking ──last ack──▶ storing ──stored──▶ completed (retained, then evicted)
 *                      └──── decline / timeout / subsumed / store-failed / restart ──▶ aborted
 *
 * Invariants (tests cite them by number):
 *  1. Checkpoint ids strictly increase, across restarts (`tasks-changed`) too.
 *  2. A periodic checkpoint is triggered only while the tasks run and fewer than `maxConcurrent`
 *     checkpoints are pending; savepoints ignore the limit (and the interval and the min pause).
 *  3. A periodic checkpoint starts at least `minPauseMs` after the end (completion or abort) of the
 *     checkpoint that ended last, and at least `intervalMs` after the previous periodic trigger.
 *  4. A checkpoint completes (`notify-complete`) only when every attempt expected at its trigger
 *     acked, `store-metadata` was emitted with all those handles, and the store reported `stored`.
 *  5. An ack for an unknown, aborted, completed or storing checkpoint, from an attempt the checkpoint
 *     does not expect, or repeating an attempt's ack, is never counted; its handle is discarded —
 *     unless it is the very handle already held (a resent ack), which must survive.
 *  6. A decline (from an expected attempt, before the last ack) or a timeout aborts exactly that
 *     checkpoint, not the others — unless it is the failure that fails the job (9).
 *  7. Every triggered checkpoint ends exactly once: one `notify-complete` or one `notify-aborted`;
 *     every savepoint request gets exactly one `savepoint-done` or `savepoint-failed`.
 *  8. Completing checkpoint n aborts the pending periodic checkpoints older than n ('subsumed');
 *     pending savepoints are never subsumed.
 *  9. Declines, timeouts and store failures of periodic checkpoints count as failures; the one that
 *     makes more than `tolerableFailures` consecutive failures emits `fail-job` exactly once (error
 *     TROUPE_CHECKPOINT_TOLERANCE_EXCEEDED, the last failure's error, if any, as its cause), aborts
 *     what is pending and idles until the next `tasks-changed`. A completion resets the count.
 * 10. At most `retained` completed checkpoints are kept (highest ids); an evicted checkpoint is
 *     discarded with its metadata, an evicted savepoint is not (the user owns it).
 * 11. Every handle is discarded at most when nothing refers to it: handles of a checkpoint whose
 *     metadata was sent to the store are discarded only after the store answered, and then with
 *     `metadata: true`. Discards must be idempotent (a handle may be named again by a repeated ack).
 */
import { TroupeError, type ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';

export type CheckpointingMode = 'exactly-once' | 'at-least-once';
export type CheckpointKind = 'checkpoint' | 'savepoint';

export interface CheckpointConfig {
  /** Time between the starts of two periodic checkpoints. */
  readonly intervalMs: number;
  /** A checkpoint not completed (acked and stored) this long after its trigger is aborted. */
  readonly timeoutMs: number;
  /** Least time between the end of one checkpoint and the start of the next periodic one. */
  readonly minPauseMs: number;
  /** Most periodic checkpoints pending at once. */
  readonly maxConcurrent: number;
  /** Consecutive failed checkpoints tolerated; one more fails the job. */
  readonly tolerableFailures: number;
  readonly mode: CheckpointingMode;
  /** Completed checkpoints kept for recovery. */
  readonly retained: number;
}

/** Flink's defaults; there is no default interval (no interval, no checkpointing). */
export const CHECKPOINT_DEFAULTS: Omit<CheckpointConfig, 'intervalMs'> = Object.freeze({
  timeoutMs: 600_000,
  minPauseMs: 0,
  maxConcurrent: 1,
  tolerableFailures: 0,
  mode: 'exactly-once',
  retained: 1,
});

export interface AckedState<H> {
  readonly attemptId: ExecutionAttemptId;
  readonly stateHandle: H;
}

export interface PendingCheckpoint<H> {
  readonly checkpointId: number;
  readonly kind: CheckpointKind;
  /** Savepoints: the request to answer. */
  readonly requestId?: string;
  /** Trigger time; also the checkpoint's timestamp in barriers. */
  readonly timestamp: number;
  readonly deadline: number;
  readonly expected: readonly ExecutionAttemptId[];
  /** attempt id → handle, for the attempts that acked. */
  readonly acked: Readonly<Record<string, H>>;
  /** `storing` once every expected attempt acked and the metadata went to the store. */
  readonly phase: 'acking' | 'storing';
}

export interface RetainedCheckpoint<H> {
  readonly checkpointId: number;
  readonly kind: CheckpointKind;
  readonly timestamp: number;
  readonly completedAt: number;
  readonly acks: readonly AckedState<H>[];
}

export interface CoordinatorState<H = unknown> {
  readonly config: CheckpointConfig;
  readonly phase: 'idle' | 'running' | 'ended';
  /** Attempts that must ack (every task), and the sources that are triggered. */
  readonly expected: readonly ExecutionAttemptId[];
  readonly sources: readonly ExecutionAttemptId[];
  readonly nextCheckpointId: number;
  /** When the next periodic checkpoint is due (while running). */
  readonly nextPeriodicAt: number | undefined;
  /** When the checkpoint that ended last ended. */
  readonly lastEndAt: number | undefined;
  /** Ascending ids. */
  readonly pending: readonly PendingCheckpoint<H>[];
  /** Ascending ids, at most `retained`; the last is the one to restore from. */
  readonly completed: readonly RetainedCheckpoint<H>[];
  /** Aborted while the store was writing their metadata: discarded once the store answers. */
  readonly abandoned: readonly { readonly checkpointId: number; readonly handles: readonly H[] }[];
  readonly consecutiveFailures: number;
}

export type CoordinatorEvent<H = unknown> =
  /** Time passed: timeouts, and the periodic trigger. */
  | { readonly type: 'tick'; readonly now: number }
  | { readonly type: 'trigger-savepoint'; readonly now: number; readonly requestId: string }
  | { readonly type: 'ack'; readonly checkpointId: number; readonly attemptId: ExecutionAttemptId; readonly stateHandle: H; readonly now: number }
  | { readonly type: 'decline'; readonly checkpointId: number; readonly attemptId: ExecutionAttemptId; readonly reason: ErrorRecord; readonly now: number }
  /** The checkpoint's metadata is durably written. */
  | { readonly type: 'stored'; readonly checkpointId: number; readonly now: number }
  | { readonly type: 'store-failed'; readonly checkpointId: number; readonly reason: ErrorRecord; readonly now: number }
  /** Every task runs (first deployment or after a restart): these attempts ack, these sources are triggered. */
  | { readonly type: 'tasks-changed'; readonly expectedAttempts: readonly ExecutionAttemptId[]; readonly sourceAttempts: readonly ExecutionAttemptId[]; readonly now: number }
  /** The tasks stopped being all running (a failover began): abort what is pending, trigger nothing. */
  | { readonly type: 'suspend'; readonly now: number }
  /** The job reached a terminal status. Completed checkpoints are kept; their fate is the caller's. */
  | { readonly type: 'job-ended' };

export type AbortReason = 'declined' | 'timeout' | 'store-failed' | 'subsumed' | 'tasks-changed' | 'suspended' | 'job-failing' | 'job-ended';

export type CoordinatorEffect<H = unknown> =
  /** Send trigger-checkpoint to the sources. */
  | { readonly type: 'trigger'; readonly checkpointId: number; readonly timestamp: number; readonly mode: CheckpointingMode; readonly kind: CheckpointKind; readonly sources: readonly ExecutionAttemptId[] }
  /** Write the checkpoint's metadata, then answer `stored` or `store-failed`. */
  | { readonly type: 'store-metadata'; readonly checkpointId: number; readonly kind: CheckpointKind; readonly timestamp: number; readonly acks: readonly AckedState<H>[] }
  | { readonly type: 'notify-complete'; readonly checkpointId: number; readonly attempts: readonly ExecutionAttemptId[] }
  | { readonly type: 'notify-aborted'; readonly checkpointId: number; readonly attempts: readonly ExecutionAttemptId[]; readonly reason: AbortReason; readonly error?: ErrorRecord }
  /**
   * Delete these handles (and, with `metadata`, whatever the store wrote for this checkpoint).
   * `rejected-ack`: an ack that was not counted; `aborted`: state of an aborted checkpoint;
   * `evicted`: a completed checkpoint beyond `retained`.
   */
  | { readonly type: 'discard'; readonly checkpointId: number; readonly handles: readonly H[]; readonly metadata: boolean; readonly why: 'rejected-ack' | 'aborted' | 'evicted' }
  | { readonly type: 'fail-job'; readonly error: ErrorRecord }
  | { readonly type: 'savepoint-done'; readonly requestId: string; readonly checkpointId: number }
  | { readonly type: 'savepoint-failed'; readonly requestId: string; readonly checkpointId?: number; readonly reason: AbortReason | 'not-running'; readonly error?: ErrorRecord };

export interface CoordinatorStep<H> {
  readonly state: CoordinatorState<H>;
  readonly effects: CoordinatorEffect<H>[];
}

const COUNTED: readonly AbortReason[] = ['declined', 'timeout', 'store-failed'];

/** Every problem of a configuration, or undefined. */
export function validateCheckpointConfig(config: CheckpointConfig): TroupeError | undefined {
  const problems: { path: string; message: string }[] = [];
  const positive = (path: keyof CheckpointConfig, v: unknown): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) problems.push({ path, message: `must be a positive number of milliseconds, got ${String(v)}` });
  };
  const count = (path: keyof CheckpointConfig, v: unknown, min: number): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) problems.push({ path, message: `must be an integer ≥ ${min}, got ${String(v)}` });
  };
  positive('intervalMs', config.intervalMs);
  positive('timeoutMs', config.timeoutMs);
  if (typeof config.minPauseMs !== 'number' || !Number.isFinite(config.minPauseMs) || config.minPauseMs < 0) {
    problems.push({ path: 'minPauseMs', message: `must be a non-negative number of milliseconds, got ${String(config.minPauseMs)}` });
  }
  count('maxConcurrent', config.maxConcurrent, 1);
  count('tolerableFailures', config.tolerableFailures, 0);
  count('retained', config.retained, 1);
  if (config.mode !== 'exactly-once' && config.mode !== 'at-least-once') problems.push({ path: 'mode', message: `must be 'exactly-once' or 'at-least-once', got ${String(config.mode)}` });
  if (problems.length === 0) return undefined;
  return new TroupeError('TROUPE_INVALID_ARGUMENT', `Invalid checkpoint configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, {
    details: { problems },
  });
}

/**
 * A coordinator that waits for its tasks (`tasks-changed`). `restored` continues after a JobManager
 * restart: ids go on from `nextCheckpointId`, `completed` are the checkpoints still retained.
 */
export function initialCoordinator<H = unknown>(
  config: CheckpointConfig,
  restored?: { readonly nextCheckpointId: number; readonly completed: readonly RetainedCheckpoint<H>[] },
): CoordinatorState<H> {
  const invalid = validateCheckpointConfig(config);
  if (invalid !== undefined) throw invalid;
  const completed = [...(restored?.completed ?? [])].sort((a, b) => a.checkpointId - b.checkpointId).slice(-config.retained);
  const nextCheckpointId = restored?.nextCheckpointId ?? 1;
  const highest = completed.at(-1)?.checkpointId ?? 0;
  if (!Number.isInteger(nextCheckpointId) || nextCheckpointId <= highest) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `nextCheckpointId must be an integer above the highest restored checkpoint id ${highest}, got ${nextCheckpointId}`);
  }
  return {
    config,
    phase: 'idle',
    expected: [],
    sources: [],
    nextCheckpointId,
    nextPeriodicAt: undefined,
    lastEndAt: undefined,
    pending: [],
    completed,
    abandoned: [],
    consecutiveFailures: 0,
  };
}

/** The latest completed checkpoint (the restore point), if any. */
export function latestCompleted<H>(state: CoordinatorState<H>): RetainedCheckpoint<H> | undefined {
  return state.completed.at(-1);
}

/** When a `tick` could next change something (a timeout, a due trigger); undefined: no timer needed. */
export function nextTickAt<H>(state: CoordinatorState<H>): number | undefined {
  let at = Infinity;
  for (const p of state.pending) at = Math.min(at, p.deadline);
  if (state.phase === 'running' && state.nextPeriodicAt !== undefined && state.pending.length < state.config.maxConcurrent) {
    at = Math.min(at, Math.max(state.nextPeriodicAt, (state.lastEndAt ?? -Infinity) + state.config.minPauseMs));
  }
  return at === Infinity ? undefined : at;
}

type Draft<H> = { -readonly [K in keyof CoordinatorState<H>]: CoordinatorState<H>[K] };

export function stepCoordinator<H>(state: CoordinatorState<H>, event: CoordinatorEvent<H>): CoordinatorStep<H> {
  const d: Draft<H> = { ...state };
  const out: CoordinatorEffect<H>[] = [];
  // time passes before anything else happens at `now`: nothing completes after its deadline
  if ('now' in event) expire(d, event.now, out);
  switch (event.type) {
    case 'tick':
      if (d.phase === 'running' && d.nextPeriodicAt !== undefined && event.now >= d.nextPeriodicAt && d.pending.length < d.config.maxConcurrent && (d.lastEndAt === undefined || event.now >= d.lastEndAt + d.config.minPauseMs)) {
        trigger(d, 'checkpoint', event.now, undefined, out);
      }
      break;
    case 'trigger-savepoint':
      if (d.phase !== 'running') out.push({ type: 'savepoint-failed', requestId: event.requestId, reason: 'not-running' });
      else trigger(d, 'savepoint', event.now, event.requestId, out);
      break;
    case 'ack':
      ack(d, event.checkpointId, event.attemptId, event.stateHandle, out);
      break;
    case 'decline': {
      const p = d.pending.find((c) => c.checkpointId === event.checkpointId);
      // a zombie attempt, or a task changing its mind after the last ack, cannot abort a checkpoint
      if (p !== undefined && p.phase === 'acking' && p.expected.includes(event.attemptId)) abort(d, p, 'declined', event.reason, event.now, out);
      break;
    }
    case 'stored':
      if (!settleAbandoned(d, event.checkpointId, out)) complete(d, event.checkpointId, event.now, out);
      break;
    case 'store-failed': {
      if (settleAbandoned(d, event.checkpointId, out)) break;
      const p = d.pending.find((c) => c.checkpointId === event.checkpointId);
      if (p !== undefined && p.phase === 'storing') abort(d, p, 'store-failed', event.reason, event.now, out, true);
      break;
    }
    case 'tasks-changed': {
      if (d.phase === 'ended') break;
      checkTasks(event.expectedAttempts, event.sourceAttempts);
      abortAll(d, 'tasks-changed', event.now, out);
      d.phase = 'running';
      d.expected = [...event.expectedAttempts];
      d.sources = [...event.sourceAttempts];
      d.nextPeriodicAt = event.now + d.config.intervalMs;
      break;
    }
    case 'suspend':
      if (d.phase !== 'running') break;
      abortAll(d, 'suspended', event.now, out);
      idle(d);
      break;
    case 'job-ended':
      if (d.phase === 'ended') break;
      abortAll(d, 'job-ended', undefined, out);
      d.phase = 'ended';
      d.nextPeriodicAt = undefined;
      break;
  }
  return { state: d, effects: out };
}

function checkTasks(expected: readonly ExecutionAttemptId[], sources: readonly ExecutionAttemptId[]): void {
  const all = new Set(expected);
  if (all.size !== expected.length) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'tasks-changed: expectedAttempts holds an attempt twice');
  if (sources.length === 0) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'tasks-changed: a job without sources cannot checkpoint');
  const stray = sources.filter((s) => !all.has(s));
  if (stray.length > 0 || new Set(sources).size !== sources.length) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `tasks-changed: sourceAttempts must be distinct expected attempts (not expected: ${stray.join(', ') || 'none'})`);
  }
}

function trigger<H>(d: Draft<H>, kind: CheckpointKind, now: number, requestId: string | undefined, out: CoordinatorEffect<H>[]): void {
  const checkpointId = d.nextCheckpointId;
  d.nextCheckpointId = checkpointId + 1;
  d.pending = [
    ...d.pending,
    { checkpointId, kind, ...(requestId !== undefined ? { requestId } : {}), timestamp: now, deadline: now + d.config.timeoutMs, expected: d.expected, acked: {}, phase: 'acking' },
  ];
  if (kind === 'checkpoint') d.nextPeriodicAt = now + d.config.intervalMs;
  out.push({ type: 'trigger', checkpointId, timestamp: now, mode: d.config.mode, kind, sources: d.sources });
}

function ack<H>(d: Draft<H>, checkpointId: number, attemptId: ExecutionAttemptId, handle: H, out: CoordinatorEffect<H>[]): void {
  const p = d.pending.find((c) => c.checkpointId === checkpointId);
  const known = p !== undefined && Object.hasOwn(p.acked, attemptId);
  if (p === undefined || p.phase !== 'acking' || known || !p.expected.includes(attemptId)) {
    // a resent ack carrying the handle we already hold must not destroy it (invariant 5)
    if (p !== undefined && known && sameJson(p.acked[attemptId], handle)) return;
    const done = d.completed.find((c) => c.checkpointId === checkpointId);
    if (done?.acks.some((a) => a.attemptId === attemptId && sameJson(a.stateHandle, handle))) return;
    pushDiscard(out, checkpointId, [handle], false, 'rejected-ack');
    return;
  }
  const acked = { ...p.acked, [attemptId]: handle };
  const all = p.expected.every((a) => Object.hasOwn(acked, a));
  const next: PendingCheckpoint<H> = { ...p, acked, phase: all ? 'storing' : 'acking' };
  d.pending = d.pending.map((c) => (c === p ? next : c));
  if (all) out.push({ type: 'store-metadata', checkpointId, kind: p.kind, timestamp: p.timestamp, acks: acksOf(next) });
}

function complete<H>(d: Draft<H>, checkpointId: number, now: number, out: CoordinatorEffect<H>[]): void {
  const p = d.pending.find((c) => c.checkpointId === checkpointId);
  if (p === undefined || p.phase !== 'storing') return;
  d.pending = d.pending.filter((c) => c !== p);
  d.consecutiveFailures = 0;
  d.lastEndAt = now;
  for (const older of d.pending.filter((c) => c.checkpointId < checkpointId && c.kind === 'checkpoint')) {
    abort(d, older, 'subsumed', undefined, now, out);
  }
  const done: RetainedCheckpoint<H> = { checkpointId, kind: p.kind, timestamp: p.timestamp, completedAt: now, acks: acksOf(p) };
  const completed = [...d.completed, done].sort((a, b) => a.checkpointId - b.checkpointId);
  while (completed.length > d.config.retained) {
    const evicted = completed.shift()!;
    if (evicted.kind === 'checkpoint') pushDiscard(out, evicted.checkpointId, evicted.acks.map((a) => a.stateHandle), true, 'evicted');
  }
  d.completed = completed;
  out.push({ type: 'notify-complete', checkpointId, attempts: p.expected });
  if (p.kind === 'savepoint' && p.requestId !== undefined) out.push({ type: 'savepoint-done', requestId: p.requestId, checkpointId });
}

/**
 * Ends a pending checkpoint. `storeAnswered`: the store already reported (store-failed), so the
 * handles go now; otherwise a checkpoint whose metadata is being written waits for the store.
 */
function abort<H>(d: Draft<H>, p: PendingCheckpoint<H>, reason: AbortReason, error: ErrorRecord | undefined, now: number | undefined, out: CoordinatorEffect<H>[], storeAnswered = false): void {
  if (!d.pending.includes(p)) return;
  d.pending = d.pending.filter((c) => c !== p);
  if (now !== undefined) d.lastEndAt = now;
  out.push({ type: 'notify-aborted', checkpointId: p.checkpointId, attempts: p.expected, reason, ...(error !== undefined ? { error } : {}) });
  const handles = acksOf(p).map((a) => a.stateHandle);
  if (p.phase === 'acking') pushDiscard(out, p.checkpointId, handles, false, 'aborted');
  else if (storeAnswered) pushDiscard(out, p.checkpointId, handles, true, 'aborted');
  else d.abandoned = [...d.abandoned, { checkpointId: p.checkpointId, handles }];
  if (p.kind === 'savepoint' && p.requestId !== undefined) {
    out.push({ type: 'savepoint-failed', requestId: p.requestId, checkpointId: p.checkpointId, reason, ...(error !== undefined ? { error } : {}) });
  }
  if (p.kind !== 'checkpoint' || !COUNTED.includes(reason)) return;
  d.consecutiveFailures += 1;
  if (d.consecutiveFailures <= d.config.tolerableFailures) return;
  out.push({
    type: 'fail-job',
    error: {
      code: 'TROUPE_CHECKPOINT_TOLERANCE_EXCEEDED',
      message: `${d.consecutiveFailures} consecutive checkpoints failed, more than the ${d.config.tolerableFailures} tolerated; the last, ${p.checkpointId}, ${describe(reason, error)}`,
      details: { checkpointId: p.checkpointId, reason, consecutiveFailures: d.consecutiveFailures, tolerableFailures: d.config.tolerableFailures },
      ...(error !== undefined ? { cause: { name: error.code, message: error.message } } : {}),
    },
  });
  d.consecutiveFailures = 0;
  abortAll(d, 'job-failing', now, out);
  idle(d);
}

function abortAll<H>(d: Draft<H>, reason: AbortReason, now: number | undefined, out: CoordinatorEffect<H>[]): void {
  for (const p of d.pending) abort(d, p, reason, undefined, now, out);
}

function idle<H>(d: Draft<H>): void {
  d.phase = 'idle';
  d.nextPeriodicAt = undefined;
}

function expire<H>(d: Draft<H>, now: number, out: CoordinatorEffect<H>[]): void {
  for (const p of d.pending.filter((c) => now >= c.deadline)) abort(d, p, 'timeout', undefined, now, out);
}

/** The store answered for a checkpoint aborted while it wrote: now its state can go. */
function settleAbandoned<H>(d: Draft<H>, checkpointId: number, out: CoordinatorEffect<H>[]): boolean {
  const a = d.abandoned.find((x) => x.checkpointId === checkpointId);
  if (a === undefined) return false;
  d.abandoned = d.abandoned.filter((x) => x !== a);
  pushDiscard(out, checkpointId, a.handles, true, 'aborted');
  return true;
}

function pushDiscard<H>(out: CoordinatorEffect<H>[], checkpointId: number, handles: readonly H[], metadata: boolean, why: 'rejected-ack' | 'aborted' | 'evicted'): void {
  const real = handles.filter((h) => h !== undefined && h !== null);
  if (real.length > 0 || metadata) out.push({ type: 'discard', checkpointId, handles: real, metadata, why });
}

function acksOf<H>(p: PendingCheckpoint<H>): AckedState<H>[] {
  return p.expected.filter((a) => Object.hasOwn(p.acked, a)).map((a) => ({ attemptId: a, stateHandle: p.acked[a] as H }));
}

function describe(reason: AbortReason, error: ErrorRecord | undefined): string {
  const what = reason === 'timeout' ? 'timed out' : reason === 'declined' ? 'was declined' : 'could not be stored';
  return error === undefined ? what : `${what}: ${error.message}`;
}

/** Structural equality of plain JSON values (handles are plain JSON). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
