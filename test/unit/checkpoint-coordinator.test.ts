/**
 * CheckpointCoordinator (actors/job-master/checkpoint-coordinator.ts). Invariants cited from the header:
 *  1. ids strictly increase, across restarts
 *  2. periodic triggers only while running and below maxConcurrent; savepoints ignore the limit
 *  3. min pause after the last end, interval after the last periodic trigger
 *  4. complete only when every expected attempt acked, metadata emitted, and stored
 *  5. late/duplicate/unknown acks never count; their handle is discarded unless it is the held one
 *  6. a decline or a timeout aborts exactly that checkpoint
 *  7. every checkpoint ends exactly once; every savepoint request is answered exactly once
 *  8. completing n aborts older pending periodic checkpoints, never savepoints
 *  9. consecutive failures beyond tolerable → fail-job once, then idle; a completion resets the count
 * 10. at most `retained` completed; evicted checkpoints discarded with metadata, savepoints not
 * 11. handles sent to the store are discarded only after the store answered
 */
import test from 'ava';
import {
  CHECKPOINT_DEFAULTS,
  initialCoordinator,
  latestCompleted,
  nextTickAt,
  stepCoordinator,
  validateCheckpointConfig,
  type CheckpointConfig,
  type CoordinatorEffect,
  type CoordinatorEvent,
  type CoordinatorState,
} from '../../actors/job-master/checkpoint-coordinator.js';
import { TroupeError, type ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';
import { seededRng } from '../helpers/prng.js';

type H = string | null;
type Fx = CoordinatorEffect<H>;

const at = (vertex: string, subtask: number, attempt = 0): ExecutionAttemptId => `job/${vertex}#${subtask}@${attempt}` as ExecutionAttemptId;
const SRC = at('src', 0);
const MAP = at('map', 0);
const SINK = at('sink', 0);
const ALL = [SRC, MAP, SINK];

const CONFIG: CheckpointConfig = { intervalMs: 100, timeoutMs: 1_000, minPauseMs: 0, maxConcurrent: 1, tolerableFailures: 0, mode: 'exactly-once', retained: 1 };
const DECLINE: ErrorRecord = { code: 'TROUPE_TASK_FAILED', message: 'snapshot failed' };
const DISK_FULL: ErrorRecord = { code: 'TROUPE_TASK_FAILED', message: 'disk full' };

const handle = (id: number, attempt: ExecutionAttemptId): string => `cp${id}/${attempt}`;
const ofType = <T extends Fx['type']>(fx: readonly Fx[], type: T): Extract<Fx, { type: T }>[] => fx.filter((e): e is Extract<Fx, { type: T }> => e.type === type);

/** Drives a coordinator with a manual clock and keeps every effect. */
class Driver {
  state: CoordinatorState<H>;
  readonly log: Fx[] = [];
  now = 0;

  constructor(config: Partial<CheckpointConfig> = {}, tasks: { expected?: ExecutionAttemptId[]; sources?: ExecutionAttemptId[] } | null = {}) {
    this.state = initialCoordinator<H>({ ...CONFIG, ...config });
    if (tasks !== null) this.send({ type: 'tasks-changed', expectedAttempts: tasks.expected ?? ALL, sourceAttempts: tasks.sources ?? [SRC], now: 0 });
  }

  send(event: CoordinatorEvent<H>): Fx[] {
    const r = stepCoordinator(this.state, event);
    this.state = r.state;
    this.log.push(...r.effects);
    return r.effects;
  }

  tick(now: number): Fx[] {
    this.now = now;
    return this.send({ type: 'tick', now });
  }
  advance(ms: number): Fx[] {
    return this.tick(this.now + ms);
  }
  ack(checkpointId: number, attemptId: ExecutionAttemptId, stateHandle: H = handle(checkpointId, attemptId)): Fx[] {
    return this.send({ type: 'ack', checkpointId, attemptId, stateHandle, now: this.now });
  }
  ackAll(checkpointId: number, attempts: readonly ExecutionAttemptId[] = ALL): Fx[] {
    return attempts.flatMap((a) => this.ack(checkpointId, a));
  }
  decline(checkpointId: number, attemptId: ExecutionAttemptId, reason = DECLINE): Fx[] {
    return this.send({ type: 'decline', checkpointId, attemptId, reason, now: this.now });
  }
  stored(checkpointId: number): Fx[] {
    return this.send({ type: 'stored', checkpointId, now: this.now });
  }
  storeFailed(checkpointId: number, reason = DISK_FULL): Fx[] {
    return this.send({ type: 'store-failed', checkpointId, reason, now: this.now });
  }
  savepoint(requestId: string): Fx[] {
    return this.send({ type: 'trigger-savepoint', requestId, now: this.now });
  }
  /** Ticks to the next due time and returns the id of the checkpoint it triggered. */
  triggerNext(): number {
    const due = nextTickAt(this.state);
    if (due === undefined) throw new Error('nothing is due');
    const trig = ofType(this.tick(Math.max(due, this.now)), 'trigger');
    if (trig.length !== 1) throw new Error(`expected one trigger at ${due}, got ${trig.length}`);
    return trig[0]!.checkpointId;
  }
  /** Trigger, every ack, stored: one whole checkpoint. */
  checkpoint(): number {
    const id = this.triggerNext();
    this.ackAll(id);
    this.stored(id);
    return id;
  }
}

// ---- configuration ----

test('checkpoint coordinator - a valid configuration passes and Flink defaults are valid', (t) => {
  t.is(validateCheckpointConfig(CONFIG), undefined);
  t.is(validateCheckpointConfig({ ...CHECKPOINT_DEFAULTS, intervalMs: 10_000 }), undefined);
});

test('checkpoint coordinator - an invalid configuration lists every problem with TROUPE_INVALID_ARGUMENT', (t) => {
  const bad = { intervalMs: 0, timeoutMs: -1, minPauseMs: -5, maxConcurrent: 0, tolerableFailures: 1.5, mode: 'twice', retained: 0 } as unknown as CheckpointConfig;
  const err = validateCheckpointConfig(bad);
  t.true(err instanceof TroupeError);
  t.is(err?.code, 'TROUPE_INVALID_ARGUMENT');
  const paths = (err?.details?.problems as { path: string }[]).map((p) => p.path);
  t.deepEqual(paths.sort(), ['intervalMs', 'maxConcurrent', 'minPauseMs', 'mode', 'retained', 'timeoutMs', 'tolerableFailures']);
  t.throws(() => initialCoordinator(bad), { instanceOf: TroupeError });
});

test('checkpoint coordinator - tasks-changed rejects a job without sources or with stray sources', (t) => {
  const s = initialCoordinator<H>(CONFIG);
  t.throws(() => stepCoordinator(s, { type: 'tasks-changed', expectedAttempts: ALL, sourceAttempts: [], now: 0 }), { instanceOf: TroupeError });
  t.throws(() => stepCoordinator(s, { type: 'tasks-changed', expectedAttempts: [MAP], sourceAttempts: [SRC], now: 0 }), { instanceOf: TroupeError });
  t.throws(() => stepCoordinator(s, { type: 'tasks-changed', expectedAttempts: [SRC, SRC], sourceAttempts: [SRC], now: 0 }), { instanceOf: TroupeError });
});

// ---- the happy path (invariant 4) ----

test('checkpoint coordinator - nothing is triggered before the tasks run', (t) => {
  const d = new Driver({}, null);
  t.is(nextTickAt(d.state), undefined);
  t.deepEqual(d.tick(10_000), []);
});

test('checkpoint coordinator - the first checkpoint is due one interval after the tasks run', (t) => {
  const d = new Driver();
  t.is(nextTickAt(d.state), 100);
  t.deepEqual(d.tick(99), []);
  t.deepEqual(d.tick(100), [{ type: 'trigger', checkpointId: 1, timestamp: 100, mode: 'exactly-once', kind: 'checkpoint', sources: [SRC] }]);
});

test('checkpoint coordinator - the trigger carries the configured mode', (t) => {
  const d = new Driver({ mode: 'at-least-once' });
  t.like(ofType(d.tick(100), 'trigger')[0], { mode: 'at-least-once' });
});

test('checkpoint coordinator - completes when every task acked and the metadata was stored', (t) => {
  const d = new Driver();
  const id = d.triggerNext();
  t.deepEqual(d.ack(id, SRC), []);
  t.deepEqual(d.ack(id, MAP), []);
  const last = d.ack(id, SINK);
  t.deepEqual(last, [
    {
      type: 'store-metadata',
      checkpointId: id,
      kind: 'checkpoint',
      timestamp: 100,
      acks: ALL.map((a) => ({ attemptId: a, stateHandle: handle(id, a) })),
    },
  ]);
  t.is(latestCompleted(d.state), undefined, 'acked but not stored is not complete');
  d.now = 130;
  t.deepEqual(d.stored(id), [{ type: 'notify-complete', checkpointId: id, attempts: ALL }]);
  t.like(latestCompleted(d.state), { checkpointId: id, kind: 'checkpoint', timestamp: 100, completedAt: 130 });
  t.is(d.state.pending.length, 0);
});

test('checkpoint coordinator - acks may arrive in any order; handles are stored in task order', (t) => {
  const d = new Driver();
  const id = d.triggerNext();
  d.ack(id, SINK);
  d.ack(id, SRC);
  const [store] = ofType(d.ack(id, MAP), 'store-metadata');
  t.deepEqual(store?.acks.map((a) => a.attemptId), ALL);
});

test('checkpoint coordinator - stored before the last ack does not complete', (t) => {
  const d = new Driver();
  const id = d.triggerNext();
  d.ack(id, SRC);
  t.deepEqual(d.stored(id), []);
  t.is(d.state.pending.length, 1);
});

test('checkpoint coordinator - a stateless task (null handle) acks; null is never discarded', (t) => {
  const d = new Driver();
  const id = d.triggerNext();
  d.ack(id, SRC, null);
  d.ack(id, MAP);
  d.ack(id, SINK);
  t.deepEqual(ofType(d.stored(id), 'notify-complete').length, 1);
  t.deepEqual(d.ack(id + 100, SRC, null), [], 'an unknown ack without state discards nothing');
});

// ---- scripted scenarios ----

test("checkpoint coordinator - the store's 3rd write fails, the job keeps running and the next checkpoint succeeds", (t) => {
  const d = new Driver({ tolerableFailures: 1 });
  let writes = 0;
  const outcomes: string[] = [];
  for (let i = 0; i < 4; i++) {
    const id = d.triggerNext();
    const [store] = ofType(d.ackAll(id), 'store-metadata');
    t.truthy(store);
    writes += 1;
    const fx = writes === 3 ? d.storeFailed(id) : d.stored(id);
    outcomes.push(fx.map((e) => e.type).join('+'));
    if (writes === 3) {
      t.deepEqual(ofType(fx, 'notify-aborted'), [{ type: 'notify-aborted', checkpointId: id, attempts: ALL, reason: 'store-failed', error: DISK_FULL }]);
      t.deepEqual(ofType(fx, 'discard'), [{ type: 'discard', checkpointId: id, handles: ALL.map((a) => handle(id, a)), metadata: true, why: 'aborted' }]);
      t.is(d.state.consecutiveFailures, 1);
    }
  }
  t.deepEqual(outcomes, ['notify-complete', 'discard+notify-complete', 'notify-aborted+discard', 'discard+notify-complete']);
  t.is(ofType(d.log, 'fail-job').length, 0);
  t.is(d.state.consecutiveFailures, 0, 'the completion reset the count (invariant 9)');
  t.is(latestCompleted(d.state)?.checkpointId, 4);
});

test('checkpoint coordinator - a task declines, the job keeps running, the next checkpoint completes (invariant 6)', (t) => {
  const d = new Driver({ tolerableFailures: 3 });
  const first = d.triggerNext();
  d.ack(first, SRC);
  const fx = d.decline(first, MAP);
  t.deepEqual(fx, [
    { type: 'notify-aborted', checkpointId: first, attempts: ALL, reason: 'declined', error: DECLINE },
    { type: 'discard', checkpointId: first, handles: [handle(first, SRC)], metadata: false, why: 'aborted' },
  ]);
  t.is(d.state.phase, 'running');
  t.deepEqual(d.ack(first, SINK), [{ type: 'discard', checkpointId: first, handles: [handle(first, SINK)], metadata: false, why: 'rejected-ack' }]);
  const second = d.checkpoint();
  t.is(second, first + 1);
  t.is(latestCompleted(d.state)?.checkpointId, second);
  t.is(d.state.consecutiveFailures, 0);
});

test('checkpoint coordinator - a checkpoint times out at its deadline and only that one (invariants 6, 7)', (t) => {
  const d = new Driver({ tolerableFailures: 5, maxConcurrent: 2, timeoutMs: 250 });
  const a = d.triggerNext(); // at 100, deadline 350
  d.ack(a, SRC);
  const b = d.triggerNext(); // at 200, deadline 450
  t.is(nextTickAt(d.state), 350, 'two are pending: only the first deadline is left to wait for');
  d.now = 349;
  t.deepEqual(d.ack(a, MAP), [], 'before the deadline an ack counts');
  t.is(nextTickAt(d.state), 350);
  const fx = d.tick(350);
  t.deepEqual(ofType(fx, 'notify-aborted').map((e) => [e.checkpointId, e.reason]), [[a, 'timeout']]);
  t.deepEqual(ofType(fx, 'discard'), [{ type: 'discard', checkpointId: a, handles: [handle(a, SRC), handle(a, MAP)], metadata: false, why: 'aborted' }]);
  t.deepEqual(d.state.pending.map((p) => p.checkpointId).sort(), [b, ...ofType(fx, 'trigger').map((e) => e.checkpointId)].sort());
  t.deepEqual(d.ack(a, SINK), [{ type: 'discard', checkpointId: a, handles: [handle(a, SINK)], metadata: false, why: 'rejected-ack' }], 'a late ack is discarded (invariant 5)');
});

test('checkpoint coordinator - an ack at the deadline, before any tick, no longer counts', (t) => {
  const d = new Driver({ tolerableFailures: 5 });
  const id = d.triggerNext();
  d.ack(id, SRC);
  d.ack(id, MAP);
  d.now = 100 + 1_000;
  const fx = d.ack(id, SINK);
  t.deepEqual(ofType(fx, 'notify-aborted').map((e) => e.reason), ['timeout']);
  t.deepEqual(ofType(fx, 'store-metadata'), []);
  t.true(ofType(fx, 'discard').some((e) => e.why === 'rejected-ack' && e.handles.includes(handle(id, SINK))));
});

// ---- invariant 5: acks that do not count ----

test('checkpoint coordinator - an ack for an unknown checkpoint is discarded', (t) => {
  const d = new Driver();
  t.deepEqual(d.ack(42, SRC, 'x'), [{ type: 'discard', checkpointId: 42, handles: ['x'], metadata: false, why: 'rejected-ack' }]);
});

test('checkpoint coordinator - an ack from an attempt the checkpoint does not expect is discarded', (t) => {
  const d = new Driver();
  const id = d.triggerNext();
  const zombie = at('map', 0, 7);
  t.deepEqual(d.ack(id, zombie, 'z'), [{ type: 'discard', checkpointId: id, handles: ['z'], metadata: false, why: 'rejected-ack' }]);
  d.ack(id, SRC);
  d.ack(id, MAP);
  t.is(d.state.pending[0]?.phase, 'acking', 'the zombie did not count');
});

test('checkpoint coordinator - a resent ack with the same handle changes nothing and destroys nothing', (t) => {
  const d = new Driver();
  const id = d.triggerNext();
  d.ack(id, SRC);
  t.deepEqual(d.ack(id, SRC), []);
  d.ack(id, MAP);
  d.ack(id, SINK);
  t.deepEqual(d.ack(id, SINK), [], 'while storing');
  d.stored(id);
  t.deepEqual(d.ack(id, MAP), [], 'after completion, the retained handle survives');
});

test('checkpoint coordinator - a duplicate ack with another handle is discarded, the first one kept', (t) => {
  const d = new Driver();
  const id = d.triggerNext();
  d.ack(id, SRC, 'first');
  t.deepEqual(d.ack(id, SRC, 'second'), [{ type: 'discard', checkpointId: id, handles: ['second'], metadata: false, why: 'rejected-ack' }]);
  d.ack(id, MAP);
  const [store] = ofType(d.ack(id, SINK), 'store-metadata');
  t.is(store?.acks[0]?.stateHandle, 'first');
});

test('checkpoint coordinator - a decline from a zombie attempt or after the last ack is ignored', (t) => {
  const d = new Driver();
  const id = d.triggerNext();
  t.deepEqual(d.decline(id, at('map', 0, 9)), []);
  t.deepEqual(d.decline(id + 5, MAP), []);
  d.ackAll(id);
  t.deepEqual(d.decline(id, MAP), [], 'storing: only the store decides');
  t.is(ofType(d.stored(id), 'notify-complete').length, 1);
});

// ---- invariants 2 and 3: concurrency, pause, interval ----

test('checkpoint coordinator - at most maxConcurrent pending; a queued trigger fires when one ends (invariant 2)', (t) => {
  const d = new Driver({ maxConcurrent: 2 });
  const a = d.triggerNext();
  const b = d.triggerNext();
  t.deepEqual(d.tick(600), []);
  t.is(d.state.pending.length, 2);
  t.is(nextTickAt(d.state), 100 + 1_000, 'only the first deadline is left to wait for');
  d.now = 650;
  d.ackAll(a);
  d.stored(a);
  t.is(nextTickAt(d.state), 650, 'due at once');
  const c = d.triggerNext();
  t.deepEqual([a, b, c], [1, 2, 3]);
});

test('checkpoint coordinator - the next periodic checkpoint waits minPause after the end of the last (invariant 3)', (t) => {
  const d = new Driver({ minPauseMs: 250 });
  const a = d.triggerNext(); // 100
  d.now = 180;
  d.ackAll(a);
  d.stored(a); // ends at 180
  t.is(nextTickAt(d.state), 430);
  t.deepEqual(ofType(d.tick(429), 'trigger'), []);
  const [trig] = ofType(d.tick(430), 'trigger');
  t.is(trig?.timestamp, 430);
});

test('checkpoint coordinator - an aborted checkpoint also starts the min pause', (t) => {
  const d = new Driver({ minPauseMs: 250, tolerableFailures: 1 });
  const a = d.triggerNext();
  d.now = 150;
  d.decline(a, SRC);
  t.is(nextTickAt(d.state), 400);
});

test('checkpoint coordinator - two periodic triggers are at least an interval apart', (t) => {
  const d = new Driver({ maxConcurrent: 3 });
  const times = [];
  for (let now = 0; now <= 1_000; now += 7) times.push(...ofType(d.tick(now), 'trigger').map((e) => e.timestamp));
  t.true(times.length >= 2);
  for (let i = 1; i < times.length; i++) t.true(times[i]! - times[i - 1]! >= 100);
});

// ---- invariant 1: ids across restarts ----

test('checkpoint coordinator - a restart aborts pending checkpoints and ids keep increasing (invariant 1)', (t) => {
  const d = new Driver({ maxConcurrent: 2 });
  const a = d.triggerNext();
  const b = d.triggerNext();
  d.ack(a, SRC);
  const src1 = at('src', 0, 1);
  const map1 = at('map', 0, 1);
  const sink1 = at('sink', 0, 1);
  d.now = 250;
  const fx = d.send({ type: 'tasks-changed', expectedAttempts: [src1, map1, sink1], sourceAttempts: [src1], now: 250 });
  t.deepEqual(ofType(fx, 'notify-aborted').map((e) => [e.checkpointId, e.reason]), [[a, 'tasks-changed'], [b, 'tasks-changed']]);
  t.is(d.state.consecutiveFailures, 0, 'a restart is not a checkpoint failure');
  t.deepEqual(d.ack(b, SRC, 'old'), [{ type: 'discard', checkpointId: b, handles: ['old'], metadata: false, why: 'rejected-ack' }]);
  t.is(nextTickAt(d.state), 350);
  const [trig] = ofType(d.tick(350), 'trigger');
  t.is(trig?.checkpointId, b + 1);
  t.deepEqual(trig?.sources, [src1]);
  d.ackAll(b + 1, [src1, map1, sink1]);
  t.deepEqual(ofType(d.stored(b + 1), 'notify-complete')[0]?.attempts, [src1, map1, sink1]);
});

test('checkpoint coordinator - a restored coordinator continues the ids and keeps the retained checkpoints', (t) => {
  const old = { checkpointId: 7, kind: 'checkpoint' as const, timestamp: 1, completedAt: 2, acks: [{ attemptId: SRC, stateHandle: 'h7' }] };
  const s = initialCoordinator<H>(CONFIG, { nextCheckpointId: 9, completed: [old] });
  t.is(latestCompleted(s)?.checkpointId, 7);
  const r = stepCoordinator(stepCoordinator(s, { type: 'tasks-changed', expectedAttempts: ALL, sourceAttempts: [SRC], now: 0 }).state, { type: 'tick', now: 100 });
  t.is(ofType(r.effects, 'trigger')[0]?.checkpointId, 9);
  t.throws(() => initialCoordinator<H>(CONFIG, { nextCheckpointId: 7, completed: [old] }), { instanceOf: TroupeError });
});

// ---- invariant 9: tolerable failures ----

test('checkpoint coordinator - with tolerableFailures 0 the first failure fails the job', (t) => {
  const d = new Driver();
  const id = d.triggerNext();
  const fx = d.decline(id, SINK);
  const [fail] = ofType(fx, 'fail-job');
  t.like(fail?.error, { code: 'TROUPE_CHECKPOINT_TOLERANCE_EXCEEDED', details: { checkpointId: id, reason: 'declined', consecutiveFailures: 1, tolerableFailures: 0 } });
  t.is(d.state.phase, 'idle');
});

test('checkpoint coordinator - one failure beyond tolerable fails the job once and aborts the rest', (t) => {
  const d = new Driver({ tolerableFailures: 2, maxConcurrent: 3 });
  const ids = [d.triggerNext(), d.triggerNext(), d.triggerNext()];
  d.decline(ids[0]!, SRC);
  d.decline(ids[1]!, SRC);
  t.is(d.state.consecutiveFailures, 2);
  t.is(ofType(d.log, 'fail-job').length, 0);
  d.triggerNext();
  const fx = d.decline(ids[2]!, SRC);
  t.is(ofType(fx, 'fail-job').length, 1);
  t.deepEqual(ofType(fx, 'notify-aborted').map((e) => e.reason), ['declined', 'job-failing']);
  t.is(d.state.pending.length, 0);
  t.is(nextTickAt(d.state), undefined);
  // failing now: nothing is triggered, nothing can fail the job again
  t.deepEqual(d.advance(5_000), []);
  t.like(ofType(d.savepoint('sp'), 'savepoint-failed')[0], { reason: 'not-running' });
  t.is(ofType(d.log, 'fail-job').length, 1);
  // the job restarts: checkpointing resumes, the count starts from zero
  d.send({ type: 'tasks-changed', expectedAttempts: ALL, sourceAttempts: [SRC], now: d.now });
  t.is(d.state.consecutiveFailures, 0);
  t.true(d.checkpoint() > ids[2]!);
});

test('checkpoint coordinator - failures must be consecutive: a completion in between resets the count', (t) => {
  const d = new Driver({ tolerableFailures: 1 });
  for (let round = 0; round < 5; round++) {
    d.decline(d.triggerNext(), SRC);
    t.is(d.state.consecutiveFailures, 1);
    d.checkpoint();
    t.is(d.state.consecutiveFailures, 0);
  }
  t.is(ofType(d.log, 'fail-job').length, 0);
});

test('checkpoint coordinator - timeouts count as failures', (t) => {
  const d = new Driver({ tolerableFailures: 1, timeoutMs: 50 });
  d.triggerNext();
  d.advance(50);
  t.is(d.state.consecutiveFailures, 1);
  d.triggerNext();
  const fx = d.advance(50);
  t.deepEqual(ofType(fx, 'notify-aborted').map((e) => e.reason), ['timeout']);
  t.is(ofType(fx, 'fail-job').length, 1);
});

test('checkpoint coordinator - suspend aborts pending checkpoints without counting, triggers nothing until tasks run', (t) => {
  const d = new Driver();
  const id = d.triggerNext();
  const fx = d.send({ type: 'suspend', now: d.now });
  t.deepEqual(ofType(fx, 'notify-aborted').map((e) => [e.checkpointId, e.reason]), [[id, 'suspended']]);
  t.is(ofType(fx, 'fail-job').length, 0);
  t.deepEqual(d.advance(10_000), []);
});

// ---- invariant 8: subsumption ----

test('checkpoint coordinator - completing a checkpoint aborts the older pending ones', (t) => {
  const d = new Driver({ maxConcurrent: 3 });
  const a = d.triggerNext();
  d.ack(a, SRC);
  const b = d.triggerNext();
  const c = d.triggerNext();
  d.ackAll(b);
  const fx = d.stored(b);
  t.deepEqual(ofType(fx, 'notify-aborted').map((e) => [e.checkpointId, e.reason]), [[a, 'subsumed']]);
  t.deepEqual(ofType(fx, 'discard'), [{ type: 'discard', checkpointId: a, handles: [handle(a, SRC)], metadata: false, why: 'aborted' }]);
  t.deepEqual(d.state.pending.map((p) => p.checkpointId), [c], 'a newer one stays');
  t.is(d.state.consecutiveFailures, 0, 'subsumption is no failure');
});

test('checkpoint coordinator - a pending savepoint is never subsumed', (t) => {
  const d = new Driver({ maxConcurrent: 3 });
  d.now = 50;
  const [sp] = ofType(d.savepoint('req-1'), 'trigger');
  t.like(sp, { kind: 'savepoint', checkpointId: 1 });
  const b = d.checkpoint();
  t.is(b, 2);
  t.deepEqual(d.state.pending.map((p) => p.checkpointId), [1]);
  d.ackAll(1);
  const fx = d.stored(1);
  t.deepEqual(ofType(fx, 'savepoint-done'), [{ type: 'savepoint-done', requestId: 'req-1', checkpointId: 1 }]);
});

test('checkpoint coordinator - an older checkpoint aborted while its metadata is written is discarded once the store answers (invariant 11)', (t) => {
  const d = new Driver({ maxConcurrent: 2 });
  const a = d.triggerNext();
  const b = d.triggerNext();
  d.ackAll(a); // a's metadata is being written
  d.ackAll(b);
  const fx = d.stored(b);
  t.deepEqual(ofType(fx, 'notify-aborted').map((e) => [e.checkpointId, e.reason]), [[a, 'subsumed']]);
  t.deepEqual(ofType(fx, 'discard'), [], 'not yet: the store is still writing a');
  t.deepEqual(d.stored(a), [{ type: 'discard', checkpointId: a, handles: ALL.map((x) => handle(a, x)), metadata: true, why: 'aborted' }]);
  t.deepEqual(d.state.abandoned, []);
  t.is(latestCompleted(d.state)?.checkpointId, b);
});

test('checkpoint coordinator - a store that hangs past the deadline: timeout now, discard when it answers', (t) => {
  const d = new Driver({ tolerableFailures: 1 });
  const id = d.triggerNext();
  d.ackAll(id);
  const fx = d.advance(1_000);
  t.deepEqual(ofType(fx, 'notify-aborted').map((e) => e.reason), ['timeout']);
  t.deepEqual(ofType(fx, 'discard'), []);
  t.deepEqual(d.storeFailed(id), [{ type: 'discard', checkpointId: id, handles: ALL.map((x) => handle(id, x)), metadata: true, why: 'aborted' }]);
  t.deepEqual(d.stored(id), [], 'answered once is enough');
});

// ---- invariant 10: retention ----

test('checkpoint coordinator - completed checkpoints beyond retained are discarded with their metadata', (t) => {
  const d = new Driver({ retained: 2 });
  const a = d.checkpoint();
  const b = d.checkpoint();
  t.deepEqual(ofType(d.log, 'discard'), []);
  d.triggerNext();
  const c = d.state.pending[0]!.checkpointId;
  d.ackAll(c);
  const fx = d.stored(c);
  t.deepEqual(ofType(fx, 'discard'), [{ type: 'discard', checkpointId: a, handles: ALL.map((x) => handle(a, x)), metadata: true, why: 'evicted' }]);
  t.deepEqual(d.state.completed.map((x) => x.checkpointId), [b, c]);
});

test('checkpoint coordinator - an evicted savepoint is not discarded: the user owns it', (t) => {
  const d = new Driver({ retained: 1 });
  d.now = 10;
  d.savepoint('sp');
  d.ackAll(1);
  d.stored(1);
  t.is(latestCompleted(d.state)?.kind, 'savepoint', 'a savepoint is a restore point too (as in Flink 1.5)');
  d.checkpoint();
  t.deepEqual(ofType(d.log, 'discard'), []);
  t.is(latestCompleted(d.state)?.checkpointId, 2);
});

// ---- savepoints ----

test('checkpoint coordinator - a savepoint ignores the interval, the min pause and maxConcurrent', (t) => {
  const d = new Driver({ minPauseMs: 10_000 });
  d.now = 1;
  t.like(ofType(d.savepoint('a'), 'trigger')[0], { kind: 'savepoint', timestamp: 1 });
  d.now = 2;
  t.like(ofType(d.savepoint('b'), 'trigger')[0], { kind: 'savepoint', timestamp: 2 });
  t.is(d.state.pending.length, 2);
  t.deepEqual(ofType(d.tick(500), 'trigger'), [], 'periodic checkpoints still wait for a free slot');
});

test('checkpoint coordinator - a savepoint fails when the job is not running, and its failures do not count', (t) => {
  const idle = new Driver({}, null);
  t.deepEqual(idle.savepoint('early'), [{ type: 'savepoint-failed', requestId: 'early', reason: 'not-running' }]);
  const d = new Driver({ tolerableFailures: 0 });
  d.now = 5;
  d.savepoint('sp');
  const fx = d.decline(1, MAP);
  t.deepEqual(ofType(fx, 'savepoint-failed'), [{ type: 'savepoint-failed', requestId: 'sp', checkpointId: 1, reason: 'declined', error: DECLINE }]);
  t.deepEqual(ofType(fx, 'fail-job'), []);
  t.is(d.state.consecutiveFailures, 0);
});

// ---- job end ----

test('checkpoint coordinator - job-ended aborts what is pending and ignores everything after', (t) => {
  const d = new Driver({ maxConcurrent: 2 });
  const a = d.triggerNext();
  d.ackAll(a);
  d.now = 150;
  d.savepoint('sp');
  const fx = d.send({ type: 'job-ended' });
  t.deepEqual(ofType(fx, 'notify-aborted').map((e) => [e.checkpointId, e.reason]), [[a, 'job-ended'], [2, 'job-ended']]);
  t.deepEqual(ofType(fx, 'savepoint-failed').map((e) => e.requestId), ['sp']);
  t.is(d.state.phase, 'ended');
  t.is(nextTickAt(d.state), undefined);
  t.deepEqual(d.advance(10_000), []);
  t.deepEqual(d.send({ type: 'tasks-changed', expectedAttempts: ALL, sourceAttempts: [SRC], now: d.now }), []);
  t.is(d.state.phase, 'ended');
  t.is(ofType(d.stored(a), 'discard').length, 1, 'the store answer for the abandoned checkpoint still frees its state');
});

// ---- random model-based test ----

interface Open {
  readonly kind: 'checkpoint' | 'savepoint';
  readonly expected: readonly ExecutionAttemptId[];
  readonly deadline: number;
  readonly acks: Map<ExecutionAttemptId, H>;
  storing: boolean;
}

test('checkpoint coordinator - random event sequences keep every invariant', (t) => {
  let sequences = 0;
  let completions = 0;
  let failJobs = 0;
  for (let seed = 1; seed <= 3_000; seed++) {
    const rng = seededRng(seed);
    const fail: (msg: string) => never = (msg) => {
      throw new Error(`seed ${seed}: ${msg}`);
    };
    const config: CheckpointConfig = {
      intervalMs: rng.int(10, 100),
      timeoutMs: rng.int(20, 400),
      minPauseMs: rng.pick([0, 0, rng.int(1, 60)]),
      maxConcurrent: rng.int(1, 3),
      tolerableFailures: rng.int(0, 3),
      mode: rng.pick(['exactly-once', 'at-least-once'] as const),
      retained: rng.int(1, 3),
    };
    let s = initialCoordinator<H>(config);
    let now = 0;
    let generation = 0;
    let tasks: ExecutionAttemptId[] = [];
    let phase: 'idle' | 'running' | 'ended' = 'idle';
    const open = new Map<number, Open>();
    const stale: ExecutionAttemptId[] = [];
    const awaitingStore = new Set<number>(); // store-metadata sent, store not answered
    const abandoned = new Set<number>(); // aborted while awaiting the store
    const savepointOwned = new Set<string>();
    const discarded = new Set<string>();
    const sent = new Set<string>();
    const requests = new Map<string, number>();
    let lastId = 0;
    let lastEnd: number | undefined;
    let lastPeriodic: number | undefined;
    let failures = 0;
    let fresh = 0;
    let failJobsThisRun = 0;

    const newTasks = (): void => {
      stale.push(...tasks);
      generation += 1;
      const n = rng.int(1, 4);
      tasks = Array.from({ length: n }, (_, i) => at(i === 0 ? 'src' : `op${i}`, 0, generation));
    };
    const held = (h: string): boolean => {
      for (const o of open.values()) for (const v of o.acks.values()) if (v === h) return true;
      return savepointOwned.has(h) || s.completed.some((c) => c.acks.some((a) => a.stateHandle === h)) || s.abandoned.some((a) => a.handles.includes(h));
    };

    const steps = rng.int(20, 250);
    for (let i = 0; i <= steps; i++) {
      // ---- pick an event ----
      let e: CoordinatorEvent<H>;
      let freshHandle: string | null = null;
      let resent = false;
      const ackable = [...open.entries()].filter(([, o]) => !o.storing);
      const r = rng.int(0, 99);
      if (i === steps) e = { type: 'job-ended' };
      else if ((phase === 'idle' && rng.chance(0.3)) || r < 3) {
        now += rng.int(0, 20);
        newTasks();
        e = { type: 'tasks-changed', expectedAttempts: tasks, sourceAttempts: tasks.slice(0, rng.int(1, tasks.length)), now };
      } else if (r < 25) {
        now += rng.int(0, rng.chance(0.1) ? config.timeoutMs : config.intervalMs);
        e = { type: 'tick', now };
      } else if (r < 60 && ackable.length > 0) {
        const [id, o] = rng.pick(ackable);
        const missing = o.expected.filter((a) => !o.acks.has(a));
        const attemptId = rng.chance(0.9) && missing.length > 0 ? rng.pick(missing) : rng.pick(o.expected);
        now += rng.int(0, 5);
        const prior = o.acks.get(attemptId);
        if (prior !== undefined && rng.chance(0.5)) {
          resent = true;
          e = { type: 'ack', checkpointId: id, attemptId, stateHandle: prior, now };
        } else {
          freshHandle = rng.chance(0.05) ? null : `h${++fresh}`;
          e = { type: 'ack', checkpointId: id, attemptId, stateHandle: freshHandle, now };
        }
      } else if (r < 66) {
        // an ack that must not count: unknown id, zombie attempt, or an ended checkpoint
        freshHandle = `h${++fresh}`;
        const attemptId = stale.length > 0 && rng.chance(0.5) ? rng.pick(stale) : tasks.length > 0 ? rng.pick(tasks) : at('src', 0);
        e = { type: 'ack', checkpointId: rng.int(1, lastId + 3), attemptId, stateHandle: freshHandle, now };
      } else if (r < 72 && open.size > 0) {
        const [id, o] = rng.pick([...open.entries()]);
        const attemptId = rng.chance(0.8) ? rng.pick(o.expected) : stale.length > 0 ? rng.pick(stale) : rng.pick(o.expected);
        now += rng.int(0, 5);
        e = { type: 'decline', checkpointId: id, attemptId, reason: DECLINE, now };
      } else if (r < 88 && awaitingStore.size > 0) {
        const id = rng.pick([...awaitingStore]);
        now += rng.int(0, 10);
        e = rng.chance(0.8) ? { type: 'stored', checkpointId: id, now } : { type: 'store-failed', checkpointId: id, reason: DISK_FULL, now };
      } else if (r < 92) {
        now += rng.int(0, 5);
        e = { type: 'trigger-savepoint', requestId: `sp${i}`, now };
        requests.set(`sp${i}`, 0);
      } else if (r < 94) {
        now += rng.int(0, 5);
        e = { type: 'suspend', now };
      } else if (r < 96) {
        const checkpointId = rng.int(1, lastId + 2);
        e = rng.chance(0.5) ? { type: 'stored', checkpointId, now } : { type: 'store-failed', checkpointId, reason: DISK_FULL, now };
      } else if (r < 97) {
        e = { type: 'job-ended' };
      } else {
        now += rng.int(0, config.intervalMs);
        e = { type: 'tick', now };
      }
      if (freshHandle !== null) sent.add(freshHandle);

      // ---- what the model expects before looking ----
      const eventNow = 'now' in e ? e.now : undefined;
      const expiring = new Set(eventNow === undefined ? [] : [...open.entries()].filter(([, o]) => eventNow >= o.deadline).map(([id]) => id));
      const ackCounts = e.type === 'ack' && (() => {
        const o = open.get(e.checkpointId);
        return o !== undefined && !o.storing && !expiring.has(e.checkpointId) && o.expected.includes(e.attemptId) && !o.acks.has(e.attemptId);
      })();
      const declineAborts = e.type === 'decline' && (() => {
        const o = open.get(e.checkpointId);
        return o !== undefined && !o.storing && !expiring.has(e.checkpointId) && o.expected.includes(e.attemptId);
      })();
      if (e.type === 'ack' && ackCounts) open.get(e.checkpointId)!.acks.set(e.attemptId, e.stateHandle);
      const completing = e.type === 'stored' && open.get(e.checkpointId)?.storing === true && !expiring.has(e.checkpointId) ? e.checkpointId : undefined;
      const discardedNow: string[] = [];

      const result = stepCoordinator(s, e);
      s = result.state;
      const fx = result.effects;

      // ---- check every effect, in order ----
      let failJobHere = 0;
      let completedHere: number | undefined;
      for (const f of fx) {
        switch (f.type) {
          case 'trigger': {
            if (f.checkpointId <= lastId) fail(`id ${f.checkpointId} after ${lastId} (invariant 1)`);
            lastId = f.checkpointId;
            if (phase !== 'running') fail('triggered while not running (invariant 2)');
            if (f.kind === 'checkpoint') {
              if (e.type !== 'tick') fail(`periodic trigger on ${e.type}`);
              if (open.size >= config.maxConcurrent) fail(`trigger with ${open.size} pending (invariant 2)`);
              if (lastEnd !== undefined && f.timestamp < lastEnd + config.minPauseMs) fail(`trigger at ${f.timestamp}, last end ${lastEnd} (invariant 3)`);
              if (lastPeriodic !== undefined && f.timestamp < lastPeriodic + config.intervalMs) fail(`trigger at ${f.timestamp}, last ${lastPeriodic} (invariant 3)`);
              lastPeriodic = f.timestamp;
            } else if (e.type !== 'trigger-savepoint') fail('savepoint without a request');
            if (f.mode !== config.mode) fail('wrong mode');
            open.set(f.checkpointId, { kind: f.kind, expected: tasks, deadline: f.timestamp + config.timeoutMs, acks: new Map(), storing: false });
            break;
          }
          case 'store-metadata': {
            const o = open.get(f.checkpointId) ?? fail(`store-metadata for ${f.checkpointId}, not pending`);
            if (o.storing) fail('metadata stored twice');
            if (e.type !== 'ack' || !ackCounts) fail('store-metadata not caused by a counted ack (invariant 4)');
            const want = o.expected.map((a) => ({ attemptId: a, stateHandle: o.acks.get(a) }));
            if (JSON.stringify(want) !== JSON.stringify(f.acks) || o.acks.size !== o.expected.length) fail(`store-metadata ${f.checkpointId} lacks acks (invariant 4)`);
            o.storing = true;
            awaitingStore.add(f.checkpointId);
            break;
          }
          case 'notify-complete': {
            const o = open.get(f.checkpointId) ?? fail(`complete ${f.checkpointId}, not pending (invariant 7)`);
            if (!o.storing || e.type !== 'stored' || e.checkpointId !== f.checkpointId) fail('completed without all acks and stored (invariant 4)');
            if (expiring.has(f.checkpointId)) fail('completed after its deadline');
            open.delete(f.checkpointId);
            awaitingStore.delete(f.checkpointId);
            if (o.kind === 'savepoint') for (const h of o.acks.values()) if (h !== null) savepointOwned.add(h);
            failures = 0;
            lastEnd = eventNow;
            completedHere = f.checkpointId;
            completions += 1;
            break;
          }
          case 'notify-aborted': {
            const o = open.get(f.checkpointId) ?? fail(`abort ${f.checkpointId}, not pending (invariant 7)`);
            open.delete(f.checkpointId);
            if (awaitingStore.has(f.checkpointId)) {
              if (e.type === 'store-failed' && e.checkpointId === f.checkpointId) awaitingStore.delete(f.checkpointId);
              else abandoned.add(f.checkpointId);
            }
            if (f.reason === 'timeout' && !expiring.has(f.checkpointId)) fail(`timeout of ${f.checkpointId} before its deadline (invariant 6)`);
            if (expiring.has(f.checkpointId) && f.reason !== 'timeout' && f.reason !== 'job-failing') fail(`expired ${f.checkpointId} aborted as ${f.reason}`);
            if (f.reason === 'declined' && !(declineAborts && e.type === 'decline' && e.checkpointId === f.checkpointId)) fail('aborted as declined without a valid decline (invariant 6)');
            if (f.reason === 'subsumed' && (o.kind === 'savepoint' || completing === undefined || f.checkpointId > completing)) fail('bad subsumption (invariant 8)');
            if (f.reason === 'job-failing' && failJobHere === 0) fail('job-failing abort without fail-job');
            if (f.reason === 'store-failed' && !(e.type === 'store-failed' && e.checkpointId === f.checkpointId)) fail('store-failed abort without a store failure');
            if ((f.reason === 'tasks-changed' || f.reason === 'suspended' || f.reason === 'job-ended') && e.type !== { 'tasks-changed': 'tasks-changed', suspended: 'suspend', 'job-ended': 'job-ended' }[f.reason]) {
              fail(`${f.reason} abort on ${e.type}`);
            }
            if (o.kind === 'checkpoint' && (f.reason === 'declined' || f.reason === 'timeout' || f.reason === 'store-failed')) failures += 1;
            if (eventNow !== undefined) lastEnd = eventNow;
            break;
          }
          case 'fail-job':
            failJobHere += 1;
            phase = 'idle';
            failJobs += 1;
            if (failures <= config.tolerableFailures) fail(`fail-job after ${failures} failures (invariant 9)`);
            failures = 0;
            failJobsThisRun += 1;
            if (failJobsThisRun > 1) fail('fail-job twice in one run (invariant 9)');
            break;
          case 'discard':
            for (const h of f.handles) {
              if (h === null) fail('null handle discarded');
              discarded.add(h);
              discardedNow.push(h);
            }
            if (f.metadata && f.why === 'aborted') {
              const answer = (e.type === 'stored' || e.type === 'store-failed') && e.checkpointId === f.checkpointId;
              if (!answer || (!abandoned.has(f.checkpointId) && e.type !== 'store-failed')) fail(`discarded stored metadata of ${f.checkpointId} before the store answered (invariant 11)`);
              abandoned.delete(f.checkpointId);
              awaitingStore.delete(f.checkpointId);
            }
            break;
          case 'savepoint-done':
          case 'savepoint-failed': {
            const n = requests.get(f.requestId);
            if (n !== 0) fail(`savepoint ${f.requestId} answered ${n === undefined ? 'without a request' : 'twice'} (invariant 7)`);
            requests.set(f.requestId, 1);
            break;
          }
        }
      }
      if (failures > config.tolerableFailures) fail(`${failures} failures and no fail-job (invariant 9)`);
      if (declineAborts && e.type === 'decline' && !fx.some((f) => f.type === 'notify-aborted' && f.checkpointId === e.checkpointId)) fail('a valid decline aborted nothing (invariant 6)');

      // ---- handle bookkeeping (invariants 5 and 11) ----
      for (const h of discardedNow) if (held(h)) fail(`handle ${h} discarded but still needed (invariant 11)`);
      if (e.type === 'ack' && !ackCounts && !resent && freshHandle !== null && !discarded.has(freshHandle)) fail(`uncounted ack ${freshHandle} kept (invariant 5)`);
      if (e.type === 'ack' && resent && fx.some((f) => f.type === 'discard' && f.why === 'rejected-ack' && f.handles.includes(e.stateHandle)) && !expiring.has(e.checkpointId)) {
        fail(`resent held handle ${String(e.stateHandle)} was discarded (invariant 5)`);
      }

      // ---- state ----
      if (s.completed.length > config.retained) fail('too many retained (invariant 10)');
      if (s.pending.filter((p) => p.kind === 'checkpoint').length > config.maxConcurrent) fail('too many pending (invariant 2)');
      if ([...s.pending.map((p) => p.checkpointId)].join() !== [...open.keys()].sort((a, b) => a - b).join()) fail('state and model disagree on pending');
      if (completedHere !== undefined && [...open.entries()].some(([id, o]) => id < completedHere && o.kind === 'checkpoint')) fail('an older checkpoint survived a completion (invariant 8)');
      if (e.type === 'tasks-changed' && phase !== 'ended') {
        phase = 'running';
        failJobsThisRun = 0;
      } else if (e.type === 'suspend' && phase === 'running') phase = 'idle';
      else if (e.type === 'job-ended') phase = 'ended';
      if (s.phase !== phase) fail(`phase ${s.phase}, model ${phase}`);
    }

    // ---- the end: let the store answer, then every handle is retained or discarded ----
    for (const id of [...awaitingStore]) {
      const r = stepCoordinator(s, { type: 'stored', checkpointId: id, now });
      for (const f of r.effects) if (f.type === 'discard') for (const h of f.handles) if (h !== null) discarded.add(h);
      s = r.state;
    }
    if (s.abandoned.length > 0) fail('abandoned checkpoints left after the store answered');
    for (const h of sent) {
      const retained = s.completed.some((c) => c.acks.some((a) => a.stateHandle === h)) || savepointOwned.has(h);
      if (retained === discarded.has(h)) fail(`handle ${h} is ${retained ? 'both retained and discarded' : 'leaked'}`);
    }
    for (const [req, n] of requests) if (n !== 1) fail(`savepoint ${req} never answered (invariant 7)`);
    sequences += 1;
  }
  t.is(sequences, 3_000);
  t.true(completions > 1_000, `only ${completions} completions: the generator is too hostile`);
  t.true(failJobs > 50, `only ${failJobs} fail-jobs`);
});
