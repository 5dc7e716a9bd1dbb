/**
 * Restart strategies (actors/job-master/restart-strategy.ts). Invariants cited from the header:
 *  1. a non-retryable failure is never restarted
 *  2. delays are finite and ≥ 0; exponential delays ≤ maxBackoffMs
 *  3. without jitter, exponential delays never decrease unless a run lasted resetBackoffThresholdMs
 */
import test from 'ava';
import {
  DEFAULT_RESTART_STRATEGY,
  RESTART_STRATEGY_TYPES,
  decideRestart,
  initialRestartState,
  parseRestartStrategy,
  restarted,
  validateRestartStrategy,
  type Failure,
  type RestartDecision,
  type RestartState,
  type RestartStrategyConfig,
} from '../../actors/job-master/restart-strategy.js';
import { TroupeError, type ErrorRecord } from '../../core/errors.js';
import { seededRng } from '../helpers/prng.js';

const FIXED: RestartStrategyConfig = { type: 'fixed-delay', attempts: 3, delayMs: 500 };
const RATE: RestartStrategyConfig = { type: 'failure-rate', maxFailuresPerInterval: 3, intervalMs: 60_000, delayMs: 1_000 };
const EXP: RestartStrategyConfig = {
  type: 'exponential-delay',
  initialBackoffMs: 1_000,
  maxBackoffMs: 10_000,
  backoffMultiplier: 2,
  resetBackoffThresholdMs: 60_000,
  jitterFactor: 0,
};
const TASK_FAILED: ErrorRecord = { code: 'TROUPE_USER_FUNCTION_FAILED', message: 'map threw' };

/** Feeds failures at the given times (or full Failure records); returns every decision and the last state. */
function failAt(config: RestartStrategyConfig, failures: readonly (number | Failure)[], state: RestartState = initialRestartState()): { decisions: RestartDecision[]; state: RestartState } {
  const decisions: RestartDecision[] = [];
  for (const f of failures) {
    const r = decideRestart(config, state, typeof f === 'number' ? { now: f } : f);
    state = r.state;
    decisions.push(r.decision);
  }
  return { decisions, state };
}
const delays = (ds: readonly RestartDecision[]): (number | false)[] => ds.map((d) => (d.restart ? d.delayMs : false));

// ---- none ----

test('restart strategy - none never restarts', (t) => {
  const { decisions } = failAt({ type: 'none' }, [0, 1_000_000]);
  t.deepEqual(decisions.map((d) => d.restart), [false, false]);
  t.regex((decisions[0] as { reason: string }).reason, /none/);
});

// ---- fixed-delay ----

test('restart strategy - fixed-delay restarts `attempts` times with the same delay, then gives up', (t) => {
  const { decisions, state } = failAt(FIXED, [0, 10, 20, 30, 40]);
  t.deepEqual(delays(decisions), [500, 500, 500, false, false]);
  t.regex((decisions[3] as { reason: string }).reason, /all 3 restart attempts/);
  t.is(state.failures, 5);
  t.is(state.restarts, 3);
});

test('restart strategy - fixed-delay attempts are counted over the job life, however far apart', (t) => {
  const { decisions } = failAt(FIXED, [0, 3_600_000, 7_200_000, 10_800_000]);
  t.deepEqual(delays(decisions), [500, 500, 500, false]);
});

test('restart strategy - fixed-delay with 0 attempts never restarts', (t) => {
  t.false(failAt({ type: 'fixed-delay', attempts: 0, delayMs: 0 }, [0]).decisions[0]!.restart);
});

// ---- failure-rate ----

test('restart strategy - failure-rate tolerates maxFailuresPerInterval failures within the interval, not one more', (t) => {
  const { decisions } = failAt(RATE, [0, 10_000, 20_000, 30_000]);
  t.deepEqual(delays(decisions), [1_000, 1_000, 1_000, false]);
  t.regex((decisions[3] as { reason: string }).reason, /4 failures within 60000 ms, more than the 3 allowed/);
});

test('restart strategy - failure-rate forgets failures older than the interval', (t) => {
  // the fourth, at 70 s, sees only 10 s and 20 s besides itself; at 76 s the window holds 20, 70, 75, 76 s
  const { decisions, state } = failAt(RATE, [0, 10_000, 20_000, 70_000, 75_000, 76_000]);
  t.deepEqual(delays(decisions), [1_000, 1_000, 1_000, 1_000, 1_000, false]);
  t.deepEqual(state.windowFailures, [20_000, 70_000, 75_000, 76_000]);
});

test('restart strategy - failure-rate: a failure exactly one interval ago still counts (as in Flink)', (t) => {
  const edge = failAt(RATE, [0, 1, 2, 60_000]);
  t.deepEqual(delays(edge.decisions), [1_000, 1_000, 1_000, false]);
  const past = failAt(RATE, [0, 1, 2, 60_001]);
  t.deepEqual(delays(past.decisions), [1_000, 1_000, 1_000, 1_000]);
});

test('restart strategy - failure-rate keeps a bounded window however many failures', (t) => {
  const times = Array.from({ length: 1_000 }, (_, i) => i * 100_000);
  const { decisions, state } = failAt(RATE, times);
  t.true(decisions.every((d) => d.restart));
  t.true(state.windowFailures.length <= 4);
});

// ---- exponential-delay ----

test('restart strategy - exponential-delay doubles the backoff up to the maximum', (t) => {
  // each failure 100 ms after the restart: never a long run
  let now = 0;
  let state = initialRestartState();
  const got: number[] = [];
  for (let i = 0; i < 7; i++) {
    const r = decideRestart(EXP, state, { now });
    state = r.state;
    if (!r.decision.restart) return t.fail('exponential-delay gave up');
    got.push(r.decision.delayMs);
    now += r.decision.delayMs + 100;
  }
  t.deepEqual(got, [1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
});

test('restart strategy - exponential-delay resets after a run of resetBackoffThresholdMs', (t) => {
  let state = initialRestartState();
  state = decideRestart(EXP, state, { now: 0 }).state; // 1 s, restarts at 1 000
  state = decideRestart(EXP, state, { now: 2_000 }).state; // 2 s, restarts at 4 000
  const shortRun = decideRestart(EXP, state, { now: 4_000 + 59_999 });
  t.deepEqual(shortRun.decision, { restart: true, delayMs: 4_000 }, 'a run of 59.999 s is not long enough');
  const longRun = decideRestart(EXP, state, { now: 4_000 + 60_000 });
  t.deepEqual(longRun.decision, { restart: true, delayMs: 1_000 });
});

test('restart strategy - exponential-delay measures the run from the restart, not from the failure', (t) => {
  const cfg: RestartStrategyConfig = { ...EXP, maxBackoffMs: 100_000, initialBackoffMs: 50_000, resetBackoffThresholdMs: 60_000 };
  const first = decideRestart(cfg, initialRestartState(), { now: 0 }); // 50 s backoff: runs from 50 s
  const second = decideRestart(cfg, first.state, { now: 70_000 }); // 70 s after the failure, but only a 20 s run
  t.deepEqual(second.decision, { restart: true, delayMs: 100_000 });
});

test('restart strategy - exponential-delay: a reported restart time is the start of the run', (t) => {
  const first = decideRestart(EXP, initialRestartState(), { now: 0 });
  // deployment took long: the job ran only from 30 s, so a failure at 80 s ended a 50 s run
  const late = restarted(first.state, 30_000);
  t.deepEqual(decideRestart(EXP, late, { now: 80_000 }).decision, { restart: true, delayMs: 2_000 });
  t.deepEqual(decideRestart(EXP, first.state, { now: 80_000 }).decision, { restart: true, delayMs: 1_000 });
});

test('restart strategy - exponential-delay jitter stays within ± jitterFactor × backoff and under the maximum (invariant 2)', (t) => {
  const cfg: RestartStrategyConfig = { ...EXP, jitterFactor: 0.1 };
  t.deepEqual(decideRestart(cfg, initialRestartState(), { now: 0, random: 0 }).decision, { restart: true, delayMs: 900 });
  t.deepEqual(decideRestart(cfg, initialRestartState(), { now: 0, random: 0.999_999 }).decision, { restart: true, delayMs: 1_100 });
  t.deepEqual(decideRestart(cfg, initialRestartState(), { now: 0 }).decision, { restart: true, delayMs: 1_000 }, 'no random: no jitter');
  t.deepEqual(decideRestart(cfg, initialRestartState(), { now: 0, random: 1 }).decision, { restart: true, delayMs: 1_100 }, 'out of range is clamped');
  // at the maximum, jitter can only lower the delay
  let state = initialRestartState();
  for (let i = 0; i < 10; i++) state = decideRestart(cfg, state, { now: i }).state;
  t.is(state.backoffMs, 10_000);
  t.deepEqual(decideRestart(cfg, state, { now: 11, random: 0.999 }).decision, { restart: true, delayMs: 10_000 });
  t.deepEqual(decideRestart(cfg, state, { now: 11, random: 0 }).decision, { restart: true, delayMs: 9_000 });
});

test('restart strategy - exponential-delay over random failure sequences keeps invariants 2 and 3', (t) => {
  for (let seed = 1; seed <= 500; seed++) {
    const rng = seededRng(seed);
    const jitterFactor = rng.pick([0, 0, 0.1, 0.5, 1]);
    const initial = rng.int(1, 5_000);
    const cfg: RestartStrategyConfig = {
      type: 'exponential-delay',
      initialBackoffMs: initial,
      maxBackoffMs: initial * rng.int(1, 100),
      backoffMultiplier: rng.pick([1, 1.5, 2, 3]),
      resetBackoffThresholdMs: rng.int(1_000, 100_000),
      jitterFactor,
    };
    let state = initialRestartState();
    let now = 0;
    let previous: number | undefined;
    let restartAt = 0;
    for (let i = 0; i < 40; i++) {
      now = restartAt + rng.int(0, cfg.resetBackoffThresholdMs * 1.2);
      const r = decideRestart(cfg, state, { now, random: rng.next() });
      if (!r.decision.restart) return t.fail(`seed ${seed}: gave up`);
      const { delayMs } = r.decision;
      if (!(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= cfg.maxBackoffMs)) return t.fail(`seed ${seed}: delay ${delayMs}`);
      const reset = now - restartAt >= cfg.resetBackoffThresholdMs;
      if (jitterFactor === 0 && previous !== undefined && !reset && delayMs < previous) return t.fail(`seed ${seed}: delay fell from ${previous} to ${delayMs}`);
      if (reset && jitterFactor === 0 && delayMs !== cfg.initialBackoffMs) return t.fail(`seed ${seed}: no reset after a long run`);
      previous = delayMs;
      restartAt = now + delayMs;
      state = r.state;
    }
  }
  t.pass();
});

// ---- across strategies ----

test('restart strategy - a non-retryable failure is never restarted (invariant 1)', (t) => {
  const notRetryable: ErrorRecord = { code: 'TROUPE_JOB_HAS_NO_SINK', message: 'no sink' };
  for (const cfg of [FIXED, RATE, EXP, DEFAULT_RESTART_STRATEGY]) {
    const r = decideRestart(cfg, initialRestartState(), { now: 0, error: notRetryable });
    t.false(r.decision.restart, cfg.type);
    t.regex((r.decision as { reason: string }).reason, /TROUPE_JOB_HAS_NO_SINK is not retryable/);
    t.true(decideRestart(cfg, initialRestartState(), { now: 0, error: TASK_FAILED }).decision.restart, `${cfg.type}: a retryable one is`);
  }
  const alien = { code: 'SOMEONE_ELSES_CODE', message: 'from a newer TaskExecutor' } as unknown as ErrorRecord;
  t.true(decideRestart(EXP, initialRestartState(), { now: 0, error: alien }).decision.restart, 'an unknown code is restarted, not a crash');
});

test('restart strategy - the default is exponential-delay with Flink defaults, and it is valid', (t) => {
  t.like(DEFAULT_RESTART_STRATEGY, { type: 'exponential-delay', initialBackoffMs: 1_000, maxBackoffMs: 300_000, backoffMultiplier: 2, resetBackoffThresholdMs: 3_600_000, jitterFactor: 0.1 });
  t.is(validateRestartStrategy(DEFAULT_RESTART_STRATEGY), undefined);
  t.true(Object.isFrozen(DEFAULT_RESTART_STRATEGY));
});

test('restart strategy - decisions do not mutate the state they were given', (t) => {
  const s0 = initialRestartState();
  const snapshot = JSON.stringify(s0);
  for (const cfg of [FIXED, RATE, EXP]) decideRestart(cfg, s0, { now: 5 });
  t.is(JSON.stringify(s0), snapshot);
});

// ---- validation ----

test('restart strategy - valid configurations of every type pass', (t) => {
  for (const cfg of [{ type: 'none' }, FIXED, RATE, EXP]) t.is(validateRestartStrategy(cfg), undefined, JSON.stringify(cfg));
  t.deepEqual(parseRestartStrategy(FIXED), FIXED);
  t.deepEqual([...RESTART_STRATEGY_TYPES], ['none', 'fixed-delay', 'failure-rate', 'exponential-delay']);
});

test('restart strategy - validation lists every problem in one TROUPE_INVALID_ARGUMENT error', (t) => {
  const err = validateRestartStrategy({ type: 'exponential-delay', initialBackoffMs: 5_000, maxBackoffMs: 1_000, backoffMultiplier: 0.5, jitterFactor: 2, resetBackofThresholdMs: 10 });
  t.true(err instanceof TroupeError);
  t.is(err?.code, 'TROUPE_INVALID_ARGUMENT');
  const problems = err?.details?.problems as { path: string; message: string }[];
  t.deepEqual(problems.map((p) => p.path).sort(), ['backoffMultiplier', 'jitterFactor', 'maxBackoffMs', 'resetBackofThresholdMs', 'resetBackoffThresholdMs']);
  t.regex(err!.message, /5 problems/);
  t.regex(err!.message, /resetBackofThresholdMs: is not a setting of exponential-delay/);
  t.regex(err!.message, /resetBackoffThresholdMs: is required/);
  t.regex(err!.message, /maxBackoffMs: must be at least initialBackoffMs \(5000\)/);
});

test('restart strategy - validation of fixed-delay and failure-rate fields', (t) => {
  const fixed = validateRestartStrategy({ type: 'fixed-delay', attempts: 1.5, delayMs: -1 });
  t.deepEqual((fixed?.details?.problems as { path: string }[]).map((p) => p.path), ['attempts', 'delayMs']);
  const rate = validateRestartStrategy({ type: 'failure-rate', maxFailuresPerInterval: 0, intervalMs: 0, delayMs: Number.NaN });
  t.deepEqual((rate?.details?.problems as { path: string }[]).map((p) => p.path), ['maxFailuresPerInterval', 'intervalMs', 'delayMs']);
  const none = validateRestartStrategy({ type: 'none', attempts: 3 });
  t.deepEqual((none?.details?.problems as { path: string }[]).map((p) => p.path), ['attempts']);
  t.is(validateRestartStrategy({ type: 'fixed-delay', attempts: '3', delayMs: 0 })?.code, 'TROUPE_INVALID_ARGUMENT');
});

test('restart strategy - validation rejects a non-object or an unknown type, naming the types', (t) => {
  for (const v of [null, 3, 'fixed-delay', [], undefined]) {
    const err = validateRestartStrategy(v);
    t.is(err?.code, 'TROUPE_INVALID_ARGUMENT', String(v));
    t.regex(err!.message, /\(root\): must be an object/);
  }
  const unknown = validateRestartStrategy({ type: 'fixed' });
  t.regex(unknown!.message, /type: must be one of none, fixed-delay, failure-rate, exponential-delay, got "fixed"/);
  t.throws(() => parseRestartStrategy({ type: 'fixed' }), { instanceOf: TroupeError });
});
