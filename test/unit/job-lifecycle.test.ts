/**
 * The job status state machine (actors/job-master/job-lifecycle.ts). Header diagram:
 *
 *   created ─deployed→ running ─all finished→ finished
 *      │                  │ task failed → failing ─all tasks terminal→ failed
 *      │                  │ cancel      → cancelling ─all terminal→ cancelled
 *      └ deploy failed / cancel ──────────→ (failing | cancelling) as above
 *
 * Invariants: 1. exactly one `terminated` effect, nothing after it; 2. the first failure is the
 * job's error; 3. terminal only when none of the tasks can still run.
 */
import test from 'ava';
import { initialLifecycle, step, type LifecycleEffect, type LifecycleEvent, type LifecycleState } from '../../actors/job-master/job-lifecycle.js';
import type { ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';
import type { ExecutionState } from '../../actors/protocol/job-status.js';
import { seededRng } from '../helpers/prng.js';

const A = 'src#0@0' as ExecutionAttemptId;
const B = 'src#1@0' as ExecutionAttemptId;
const C = 'sink#0@0' as ExecutionAttemptId;
const ALL = [A, B, C];

const E1: ErrorRecord = { code: 'TROUPE_USER_FUNCTION_FAILED', message: 'map threw', operator: 'Map' };
const E2: ErrorRecord = { code: 'TROUPE_TASK_FAILED', message: 'a consequence' };
const DEPLOY_ERROR: ErrorRecord = { code: 'TROUPE_NOT_ENOUGH_SLOTS', message: 'no slots' };

const TERMINAL_TASK: readonly ExecutionState[] = ['finished', 'canceled', 'failed'];
const TERMINAL_JOB = ['finished', 'failed', 'cancelled'];

const task = (attemptId: ExecutionAttemptId, state: ExecutionState, error?: ErrorRecord): LifecycleEvent => ({
  type: 'task-state',
  attemptId,
  state,
  ...(error !== undefined ? { error } : {}),
});

/** Applies events in order, returning the final state and every effect. */
function run(state: LifecycleState, ...events: LifecycleEvent[]): { state: LifecycleState; effects: LifecycleEffect[] } {
  const effects: LifecycleEffect[] = [];
  for (const e of events) {
    const r = step(state, e);
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}

const running = (): LifecycleState => step(initialLifecycle(ALL), { type: 'deployed' }).state;
const terminatedOf = (effects: LifecycleEffect[]): LifecycleEffect[] => effects.filter((e) => e.type === 'terminated');

// ---- created ----

test('job lifecycle - a new job is created with every attempt deploying', (t) => {
  const s = initialLifecycle(ALL);
  t.is(s.status, 'created');
  t.deepEqual(s.executions, { [A]: 'deploying', [B]: 'deploying', [C]: 'deploying' });
  t.is(s.error, undefined);
});

test('job lifecycle - created → running on deployed, with a start-tasks effect', (t) => {
  const r = step(initialLifecycle(ALL), { type: 'deployed' });
  t.is(r.state.status, 'running');
  t.deepEqual(r.effects, [{ type: 'start-tasks' }]);
  t.deepEqual(r.state.executions, { [A]: 'running', [B]: 'running', [C]: 'running' });
});

test('job lifecycle - deployed keeps task states already reported past deploying', (t) => {
  const r = run(initialLifecycle(ALL), task(A, 'running'), { type: 'deployed' });
  t.is(r.state.executions[A], 'running');
  t.is(r.state.executions[B], 'running');
});

test('job lifecycle - a second deployed is ignored', (t) => {
  const s = running();
  const r = step(s, { type: 'deployed' });
  t.is(r.state, s);
  t.deepEqual(r.effects, []);
});

test('job lifecycle - step does not mutate the state it is given', (t) => {
  const s = initialLifecycle(ALL);
  const snapshot = structuredClone(s);
  run(s, { type: 'deployed' }, task(A, 'failed', E1), { type: 'cancel-timeout' });
  t.deepEqual(s, snapshot);
});

// ---- running → finished ----

test('job lifecycle - running → finished once every task finished, with one terminated effect', (t) => {
  let s = running();
  for (const a of [A, B]) {
    const r = step(s, task(a, 'finished'));
    t.deepEqual(r.effects, [], `no effect while ${a} is not the last`);
    t.is(r.state.status, 'running');
    s = r.state;
  }
  const r = step(s, task(C, 'finished'));
  t.is(r.state.status, 'finished');
  t.deepEqual(r.effects, [{ type: 'terminated', status: 'finished' }]);
});

test('job lifecycle - tasks finishing while the job is still created do not terminate it', (t) => {
  // finished requires status running (settle): finishing while still created does not terminate
  const r = run(initialLifecycle([A]), task(A, 'finished'));
  t.is(r.state.status, 'created');
  t.deepEqual(r.effects, []);
});

// ---- running → failing → failed ----

test('job lifecycle - running → failing on a task failure, cancelling the live tasks only', (t) => {
  const s = run(running(), task(C, 'finished')).state;
  const r = step(s, task(A, 'failed', E1));
  t.is(r.state.status, 'failing');
  t.deepEqual(r.effects, [{ type: 'cancel-tasks', attempts: [B] }]);
  t.is(r.state.executions[A], 'failed');
  t.is(r.state.executions[B], 'canceling');
  t.is(r.state.executions[C], 'finished');
  t.deepEqual(r.state.error, E1);
});

test('job lifecycle - failing → failed when the cancelled tasks confirm, carrying the error', (t) => {
  const s = run(running(), task(A, 'failed', E1)).state;
  const r1 = step(s, task(B, 'canceled'));
  t.is(r1.state.status, 'failing');
  t.deepEqual(r1.effects, []);
  const r2 = step(r1.state, task(C, 'canceled'));
  t.is(r2.state.status, 'failed');
  t.deepEqual(r2.effects, [{ type: 'terminated', status: 'failed', error: E1 }]);
});

test('job lifecycle - a task that finishes instead of cancelling still counts as terminal while failing', (t) => {
  const r = run(running(), task(A, 'failed', E1), task(B, 'finished'), task(C, 'canceled'));
  t.is(r.state.status, 'failed');
  t.is(terminatedOf(r.effects).length, 1);
});

test('job lifecycle - the failure of the only live task terminates at once, without cancel-tasks', (t) => {
  const s = step(initialLifecycle([A]), { type: 'deployed' }).state;
  const r = step(s, task(A, 'failed', E1));
  t.is(r.state.status, 'failed');
  t.deepEqual(r.effects, [{ type: 'terminated', status: 'failed', error: E1 }]);
});

test('job lifecycle - a task failure without an error record becomes TROUPE_TASK_FAILED naming the attempt', (t) => {
  const r = step(running(), task(B, 'failed'));
  t.deepEqual(r.state.error, { code: 'TROUPE_TASK_FAILED', message: `task ${B} failed` });
});

// ---- running → cancelling → cancelled ----

test('job lifecycle - running → cancelling on cancel, cancelling every live task', (t) => {
  const s = run(running(), task(A, 'finished')).state;
  const r = step(s, { type: 'cancel' });
  t.is(r.state.status, 'cancelling');
  t.deepEqual(r.effects, [{ type: 'cancel-tasks', attempts: [B, C] }]);
  t.is(r.state.error, undefined);
});

test('job lifecycle - cancelling → cancelled when every task is terminal, without error', (t) => {
  const r = run(running(), { type: 'cancel' }, task(A, 'canceled'), task(B, 'canceled'), task(C, 'finished'));
  t.is(r.state.status, 'cancelled');
  t.deepEqual(terminatedOf(r.effects), [{ type: 'terminated', status: 'cancelled' }]);
});

test('job lifecycle - cancel when every task already finished but the job still runs terminates as cancelled at once', (t) => {
  const s = running();
  const mid = { ...s, executions: { [A]: 'finished', [B]: 'finished', [C]: 'canceled' } } satisfies LifecycleState;
  const r = step(mid, { type: 'cancel' });
  t.deepEqual(r.effects, [{ type: 'terminated', status: 'cancelled' }]);
});

test('job lifecycle - a second cancel while cancelling is ignored', (t) => {
  const s = step(running(), { type: 'cancel' }).state;
  const r = step(s, { type: 'cancel' });
  t.is(r.state, s);
  t.deepEqual(r.effects, []);
});

test('job lifecycle - cancel while failing is ignored (the job still ends failed)', (t) => {
  const s = step(running(), task(A, 'failed', E1)).state;
  const r = step(s, { type: 'cancel' });
  t.is(r.state, s);
  t.deepEqual(r.effects, []);
  const end = run(r.state, task(B, 'canceled'), task(C, 'canceled'));
  t.is(end.state.status, 'failed');
});

test('job lifecycle - a task failure while cancelling does not turn the job into failing', (t) => {
  const r = run(running(), { type: 'cancel' }, task(A, 'failed', E1), task(B, 'canceled'), task(C, 'canceled'));
  t.is(r.state.status, 'cancelled');
  t.deepEqual(terminatedOf(r.effects), [{ type: 'terminated', status: 'cancelled' }]);
});

// ---- created → cancelling / failing ----

test('job lifecycle - cancel during created → cancelling, cancelling the deploying tasks', (t) => {
  const r = step(initialLifecycle(ALL), { type: 'cancel' });
  t.is(r.state.status, 'cancelling');
  t.deepEqual(r.effects, [{ type: 'cancel-tasks', attempts: ALL }]);
  t.true(Object.values(r.state.executions).every((s) => s === 'canceling'));
});

test('job lifecycle - deployed after cancel during created is ignored', (t) => {
  const s = step(initialLifecycle(ALL), { type: 'cancel' }).state;
  const r = step(s, { type: 'deployed' });
  t.is(r.state, s);
  t.deepEqual(r.effects, []);
});

test('job lifecycle - cancel during created ends cancelled once the tasks confirm', (t) => {
  const r = run(initialLifecycle(ALL), { type: 'cancel' }, ...ALL.map((a) => task(a, 'canceled')));
  t.is(r.state.status, 'cancelled');
  t.is(terminatedOf(r.effects).length, 1);
});

test('job lifecycle - deploy-failed during created → failing with the deploy error, cancelling live tasks', (t) => {
  const r = step(initialLifecycle(ALL), { type: 'deploy-failed', error: DEPLOY_ERROR });
  t.is(r.state.status, 'failing');
  t.deepEqual(r.state.error, DEPLOY_ERROR);
  t.deepEqual(r.effects, [{ type: 'cancel-tasks', attempts: ALL }]);
});

test('job lifecycle - deploy-failed ends failed with the deploy error once tasks confirm', (t) => {
  const r = run(initialLifecycle(ALL), { type: 'deploy-failed', error: DEPLOY_ERROR }, ...ALL.map((a) => task(a, 'canceled')));
  t.is(r.state.status, 'failed');
  t.deepEqual(terminatedOf(r.effects), [{ type: 'terminated', status: 'failed', error: DEPLOY_ERROR }]);
});

test('job lifecycle - deploy-failed with no live tasks terminates at once', (t) => {
  // as JobMaster.schedule does: attempts that were never submitted are marked canceled first
  const s = run(initialLifecycle(ALL), ...ALL.map((a) => task(a, 'canceled'))).state;
  t.is(s.status, 'created');
  const r = step(s, { type: 'deploy-failed', error: DEPLOY_ERROR });
  t.is(r.state.status, 'failed');
  t.deepEqual(r.effects, [{ type: 'terminated', status: 'failed', error: DEPLOY_ERROR }]);
});

test('job lifecycle - deploy-failed for a job with no attempts terminates at once', (t) => {
  const r = step(initialLifecycle([]), { type: 'deploy-failed', error: DEPLOY_ERROR });
  t.deepEqual(r.effects, [{ type: 'terminated', status: 'failed', error: DEPLOY_ERROR }]);
});

test('job lifecycle - deploy-failed after some tasks were submitted cancels only those', (t) => {
  const s = run(initialLifecycle(ALL), task(C, 'canceled')).state;
  const r = step(s, { type: 'deploy-failed', error: DEPLOY_ERROR });
  t.deepEqual(r.effects, [{ type: 'cancel-tasks', attempts: [A, B] }]);
});

test('job lifecycle - a task failure during created → failing', (t) => {
  const r = step(initialLifecycle(ALL), task(A, 'failed', E1));
  t.is(r.state.status, 'failing');
  t.deepEqual(r.effects, [{ type: 'cancel-tasks', attempts: [B, C] }]);
});

// ---- cancel-timeout ----

test('job lifecycle - cancel-timeout while cancelling forces terminal, marking stragglers canceled', (t) => {
  const s = run(running(), { type: 'cancel' }, task(A, 'canceled')).state;
  const r = step(s, { type: 'cancel-timeout' });
  t.is(r.state.status, 'cancelled');
  t.deepEqual(r.effects, [{ type: 'terminated', status: 'cancelled' }]);
  t.deepEqual(r.state.executions, { [A]: 'canceled', [B]: 'canceled', [C]: 'canceled' });
});

test('job lifecycle - cancel-timeout while failing forces failed with the first error', (t) => {
  const s = run(running(), task(A, 'failed', E1), task(B, 'finished')).state;
  const r = step(s, { type: 'cancel-timeout' });
  t.is(r.state.status, 'failed');
  t.deepEqual(r.effects, [{ type: 'terminated', status: 'failed', error: E1 }]);
  t.is(r.state.executions[B], 'finished', 'terminal task states are kept');
  t.is(r.state.executions[A], 'failed');
  t.is(r.state.executions[C], 'canceled');
});

test('job lifecycle - cancel-timeout while running or created is ignored', (t) => {
  for (const s of [initialLifecycle(ALL), running()]) {
    const r = step(s, { type: 'cancel-timeout' });
    t.is(r.state, s);
    t.deepEqual(r.effects, []);
  }
});

// ---- task-state edge cases ----

test('job lifecycle - a state report for an unknown attempt is ignored', (t) => {
  const s = running();
  const r = step(s, task('ghost#0@0' as ExecutionAttemptId, 'failed', E1));
  t.is(r.state, s);
  t.deepEqual(r.effects, []);
});

test('job lifecycle - a terminal task cannot change state again', (t) => {
  const s = run(running(), task(A, 'finished')).state;
  const r = step(s, task(A, 'failed', E1));
  t.is(r.state, s);
  t.deepEqual(r.effects, []);
});

// ---- invariant 1: exactly one terminated, nothing after ----

const EVERY_EVENT: LifecycleEvent[] = [
  { type: 'deployed' },
  { type: 'deploy-failed', error: E2 },
  { type: 'cancel' },
  { type: 'cancel-timeout' },
  task(A, 'failed', E2),
  task(A, 'finished'),
  task(B, 'canceled'),
  task(C, 'running'),
];

for (const [name, events] of [
  ['finished', [{ type: 'deployed' }, task(A, 'finished'), task(B, 'finished'), task(C, 'finished')]],
  ['failed', [{ type: 'deployed' }, task(A, 'failed', E1), { type: 'cancel-timeout' }]],
  ['cancelled', [{ type: 'deployed' }, { type: 'cancel' }, { type: 'cancel-timeout' }]],
] as Array<[string, LifecycleEvent[]]>) {
  test(`job lifecycle - after terminating as ${name}, every further event is ignored (invariant 1)`, (t) => {
    const end = run(initialLifecycle(ALL), ...events);
    t.is(end.state.status, name as LifecycleState['status']);
    t.is(terminatedOf(end.effects).length, 1);
    for (const e of EVERY_EVENT) {
      const r = step(end.state, e);
      t.is(r.state, end.state, e.type);
      t.deepEqual(r.effects, [], e.type);
    }
  });
}

test('job lifecycle - random event sequences yield at most one terminated effect, last, and only once no task can run (invariants 1 and 3)', (t) => {
  const attempts = [A, B, C, 'x#0@0' as ExecutionAttemptId];
  const states: ExecutionState[] = ['running', 'finished', 'canceling', 'canceled', 'failed'];
  let terminatedRuns = 0;
  for (let seed = 1; seed <= 2_000; seed++) {
    const rng = seededRng(seed);
    let s = initialLifecycle(attempts);
    let terminatedAt = -1;
    const n = rng.int(1, 30);
    for (let i = 0; i < n; i++) {
      const kind = rng.int(0, 9);
      let e: LifecycleEvent;
      if (kind === 0) e = { type: 'deployed' };
      else if (kind === 1) e = { type: 'deploy-failed', error: { code: 'TROUPE_TASK_FAILED', message: `d${i}` } };
      else if (kind === 2) e = { type: 'cancel' };
      else if (kind === 3) e = { type: 'cancel-timeout' };
      else e = task(rng.pick(attempts), rng.pick(states), { code: 'TROUPE_USER_FUNCTION_FAILED', message: `t${i}` });
      const r = step(s, e);
      const terms = terminatedOf(r.effects);
      if (terms.length > 1) t.fail(`seed ${seed}: ${terms.length} terminated effects in one step`);
      if (terms.length > 0 && r.effects[r.effects.length - 1]!.type !== 'terminated') t.fail(`seed ${seed}: effect after terminated`);
      if (terminatedAt >= 0 && r.effects.length > 0) t.fail(`seed ${seed}: effects after terminated at step ${terminatedAt}`);
      if (terms.length === 1) {
        terminatedAt = i;
        const term = terms[0]! as Extract<LifecycleEffect, { type: 'terminated' }>;
        if (term.status !== r.state.status) t.fail(`seed ${seed}: terminated ${term.status} but status ${r.state.status}`);
        if (!Object.values(r.state.executions).every((x) => TERMINAL_TASK.includes(x))) t.fail(`seed ${seed}: terminal with live tasks (invariant 3)`);
      }
      if (TERMINAL_JOB.includes(r.state.status) !== terminatedAt >= 0) t.fail(`seed ${seed}: status ${r.state.status} without exactly one terminated effect`);
      s = r.state;
    }
    if (terminatedAt >= 0) terminatedRuns++;
  }
  t.true(terminatedRuns > 500, `only ${terminatedRuns} random runs terminated`);
});

// ---- invariant 2: first error wins ----

test('job lifecycle - a second task failure does not replace the first error (invariant 2)', (t) => {
  const r = run(running(), task(A, 'failed', E1), task(B, 'failed', E2), task(C, 'canceled'));
  t.is(r.state.status, 'failed');
  t.deepEqual(r.state.error, E1);
  t.deepEqual(terminatedOf(r.effects), [{ type: 'terminated', status: 'failed', error: E1 }]);
});

test('job lifecycle - a task failure after a deploy failure keeps the deploy error (invariant 2)', (t) => {
  const r = run(initialLifecycle(ALL), { type: 'deploy-failed', error: DEPLOY_ERROR }, task(A, 'failed', E1), task(B, 'canceled'), task(C, 'canceled'));
  t.deepEqual(terminatedOf(r.effects), [{ type: 'terminated', status: 'failed', error: DEPLOY_ERROR }]);
});

test('job lifecycle - a deploy failure after a task failure keeps the task error (invariant 2)', (t) => {
  // BUG: step() handles 'deploy-failed' with beginStop(state, 'failing', event.error) even when the
  // job is already failing, and beginStop prefers the new error over state.error, so the later
  // deploy error replaces the first failure. Reachable from JobMaster.schedule: a submitted task
  // reports 'failed' while another submit-task ask is still pending and then rejects.
  const r = run(initialLifecycle(ALL), task(A, 'failed', E1), { type: 'deploy-failed', error: DEPLOY_ERROR }, task(B, 'canceled'), task(C, 'canceled'));
  t.deepEqual(r.state.error, E1);
  t.deepEqual(terminatedOf(r.effects), [{ type: 'terminated', status: 'failed', error: E1 }]);
});
