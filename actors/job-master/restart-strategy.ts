/**
 * Restart strategies of a JobMaster (Flink's RestartBackoffTimeStrategy family), pure:
 * `decideRestart(config, state, failure)` → `{ state, decision }`, with the failure's time and the
 * jitter's randomness passed in.
 *
 *  - `none`: never restart.
 *  - `fixed-delay`: restart after `delayMs`, at most `attempts` times over the job's life.
 *  - `failure-rate`: restart after `delayMs` while at most `maxFailuresPerInterval` failures (this
 *    one included) happened within the last `intervalMs` (a failure exactly `intervalMs` ago counts,
 *    as in Flink).
 *  - `exponential-delay` (the default): the first restart waits `initialBackoffMs`, each next one
 *    `backoffMultiplier` times longer, up to `maxBackoffMs`; a run of `resetBackoffThresholdMs`
 *    without failure starts again from `initialBackoffMs`. The run is measured from the restart
 *    (failure + delay, or `restarted` when the caller reports it), not from the failure as in Flink,
 *    so a long backoff does not count as healthy running. Jitter: ± `jitterFactor` × backoff,
 *    uniform, never above `maxBackoffMs`.
 *
 * Invariants:
 *  1. A failure whose error is not retryable (core/errors.ts catalog) is never restarted.
 *  2. Delays are finite, ≥ 0, and for exponential-delay ≤ `maxBackoffMs`.
 *  3. Without jitter, exponential delays never decrease between two failures unless the run in
 *     between lasted `resetBackoffThresholdMs`.
 */
import { ERROR_CATALOG, TroupeError, isErrorCode, type ErrorRecord } from '../../core/errors.js';

export type RestartStrategyConfig =
  | { readonly type: 'none' }
  | { readonly type: 'fixed-delay'; readonly attempts: number; readonly delayMs: number }
  | { readonly type: 'failure-rate'; readonly maxFailuresPerInterval: number; readonly intervalMs: number; readonly delayMs: number }
  | {
      readonly type: 'exponential-delay';
      readonly initialBackoffMs: number;
      readonly maxBackoffMs: number;
      readonly backoffMultiplier: number;
      readonly resetBackoffThresholdMs: number;
      readonly jitterFactor: number;
    };

export type RestartStrategyType = RestartStrategyConfig['type'];
export const RESTART_STRATEGY_TYPES: readonly RestartStrategyType[] = ['none', 'fixed-delay', 'failure-rate', 'exponential-delay'];

/** Flink's defaults for exponential-delay. */
export const DEFAULT_RESTART_STRATEGY: RestartStrategyConfig = Object.freeze({
  type: 'exponential-delay',
  initialBackoffMs: 1_000,
  maxBackoffMs: 300_000,
  backoffMultiplier: 2,
  resetBackoffThresholdMs: 3_600_000,
  jitterFactor: 0.1,
});

export interface RestartState {
  /** Failures seen (restarted or not). */
  readonly failures: number;
  /** Restarts granted. */
  readonly restarts: number;
  /** failure-rate: times of the failures still inside the window, oldest first. */
  readonly windowFailures: readonly number[];
  /** exponential-delay: the backoff of the last restart, before jitter. */
  readonly backoffMs?: number;
  /** When the job last (re)started running: the run that a failure ends is measured from here. */
  readonly restartedAt?: number;
}

export interface Failure {
  readonly now: number;
  /** Uniform in [0, 1), for the jitter; 0.5 (no jitter) when absent. */
  readonly random?: number;
  readonly error?: ErrorRecord;
}

export type RestartDecision = { readonly restart: true; readonly delayMs: number } | { readonly restart: false; readonly reason: string };

export function initialRestartState(): RestartState {
  return { failures: 0, restarts: 0, windowFailures: [] };
}

/** The job runs again at `now` (its tasks are all running): a later failure measures its run from here. */
export function restarted(state: RestartState, now: number): RestartState {
  return { ...state, restartedAt: now };
}

export function decideRestart(config: RestartStrategyConfig, state: RestartState, failure: Failure): { state: RestartState; decision: RestartDecision } {
  const { now } = failure;
  // records cross processes: an unknown code is not a reason to give up
  if (failure.error !== undefined && isErrorCode(failure.error.code) && !ERROR_CATALOG[failure.error.code].retryable) {
    return { state: { ...state, failures: state.failures + 1 }, decision: { restart: false, reason: `${failure.error.code} is not retryable: ${failure.error.message}` } };
  }
  const failures = state.failures + 1;
  switch (config.type) {
    case 'none':
      return { state: { ...state, failures }, decision: { restart: false, reason: 'the restart strategy is none' } };
    case 'fixed-delay':
      if (state.restarts >= config.attempts) {
        return { state: { ...state, failures }, decision: { restart: false, reason: `fixed-delay: all ${config.attempts} restart attempts are used up` } };
      }
      return granted({ ...state, failures }, now, config.delayMs);
    case 'failure-rate': {
      const windowFailures = [...state.windowFailures.filter((t) => now - t <= config.intervalMs), now].slice(-(config.maxFailuresPerInterval + 1));
      const next = { ...state, failures, windowFailures };
      if (windowFailures.length > config.maxFailuresPerInterval) {
        return {
          state: next,
          decision: { restart: false, reason: `failure-rate: ${windowFailures.length} failures within ${config.intervalMs} ms, more than the ${config.maxFailuresPerInterval} allowed` },
        };
      }
      return granted(next, now, config.delayMs);
    }
    case 'exponential-delay': {
      const ranLongEnough = state.restartedAt !== undefined && now - state.restartedAt >= config.resetBackoffThresholdMs;
      const backoffMs =
        state.backoffMs === undefined || ranLongEnough ? config.initialBackoffMs : Math.min(state.backoffMs * config.backoffMultiplier, config.maxBackoffMs);
      const offset = Math.floor(backoffMs * config.jitterFactor);
      const random = Math.min(Math.max(failure.random ?? 0.5, 0), 1 - Number.EPSILON);
      const jitter = offset === 0 ? 0 : -offset + Math.floor(random * (2 * offset + 1));
      const delayMs = Math.max(0, Math.min(backoffMs + jitter, config.maxBackoffMs));
      return granted({ ...state, failures, backoffMs }, now, delayMs);
    }
  }
}

function granted(state: RestartState, now: number, delayMs: number): { state: RestartState; decision: RestartDecision } {
  return { state: { ...state, restarts: state.restarts + 1, restartedAt: now + delayMs }, decision: { restart: true, delayMs } };
}

export interface RestartStrategyProblem {
  /** The field, e.g. `delayMs`; `(root)` for the value itself. */
  readonly path: string;
  readonly message: string;
}

const FIELDS: Record<RestartStrategyType, readonly string[]> = {
  none: [],
  'fixed-delay': ['attempts', 'delayMs'],
  'failure-rate': ['maxFailuresPerInterval', 'intervalMs', 'delayMs'],
  'exponential-delay': ['initialBackoffMs', 'maxBackoffMs', 'backoffMultiplier', 'resetBackoffThresholdMs', 'jitterFactor'],
};

/** Every problem of a restart strategy configuration as one TROUPE_INVALID_ARGUMENT error, or undefined. */
export function validateRestartStrategy(value: unknown): TroupeError | undefined {
  const problems = restartStrategyProblems(value);
  if (problems.length === 0) return undefined;
  const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  return new TroupeError('TROUPE_INVALID_ARGUMENT', `Invalid restart strategy (${count}):\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, {
    details: { problems },
  });
}

/** The value as a configuration, or throws the error of `validateRestartStrategy`. */
export function parseRestartStrategy(value: unknown): RestartStrategyConfig {
  const error = validateRestartStrategy(value);
  if (error !== undefined) throw error;
  return value as RestartStrategyConfig;
}

function restartStrategyProblems(value: unknown): RestartStrategyProblem[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ path: '(root)', message: `must be an object with a "type" (${RESTART_STRATEGY_TYPES.join(', ')}), got ${describe(value)}` }];
  }
  const v = value as Record<string, unknown>;
  const type = v.type;
  if (typeof type !== 'string' || !(RESTART_STRATEGY_TYPES as readonly string[]).includes(type)) {
    return [{ path: 'type', message: `must be one of ${RESTART_STRATEGY_TYPES.join(', ')}, got ${describe(type)}` }];
  }
  const t = type as RestartStrategyType;
  const problems: RestartStrategyProblem[] = [];
  for (const key of Object.keys(v)) {
    if (key !== 'type' && !FIELDS[t].includes(key)) problems.push({ path: key, message: `is not a setting of ${t} (its settings: ${FIELDS[t].join(', ') || 'none'})` });
  }
  const number = (key: string, ok: (n: number) => boolean, what: string): number | undefined => {
    const n = v[key];
    if (n === undefined) problems.push({ path: key, message: `is required (${what})` });
    else if (typeof n !== 'number' || !Number.isFinite(n) || !ok(n)) problems.push({ path: key, message: `must be ${what}, got ${describe(n)}` });
    else return n;
    return undefined;
  };
  const ms = (key: string, min: 0 | 1): number | undefined => number(key, (n) => n >= min, min === 0 ? 'a number of milliseconds ≥ 0' : 'a number of milliseconds > 0');
  switch (t) {
    case 'none':
      break;
    case 'fixed-delay':
      number('attempts', (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0');
      ms('delayMs', 0);
      break;
    case 'failure-rate':
      number('maxFailuresPerInterval', (n) => Number.isInteger(n) && n >= 1, 'an integer ≥ 1');
      number('intervalMs', (n) => n > 0, 'a number of milliseconds > 0');
      ms('delayMs', 0);
      break;
    case 'exponential-delay': {
      const initial = number('initialBackoffMs', (n) => n > 0, 'a number of milliseconds > 0');
      const max = number('maxBackoffMs', (n) => n > 0, 'a number of milliseconds > 0');
      number('backoffMultiplier', (n) => n >= 1, 'a number ≥ 1');
      number('resetBackoffThresholdMs', (n) => n > 0, 'a number of milliseconds > 0');
      number('jitterFactor', (n) => n >= 0 && n <= 1, 'a number from 0 to 1');
      if (initial !== undefined && max !== undefined && max < initial) {
        problems.push({ path: 'maxBackoffMs', message: `must be at least initialBackoffMs (${initial}), got ${max}` });
      }
      break;
    }
  }
  return problems;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
