/**
 * SlotManager (actors/resource-manager/slot-manager.ts). Invariants cited from the module header:
 *  1. a slot is held by at most one job
 *  2. a request is granted whole or not at all
 *  3. free(job) returns every slot the job held
 */
import test from 'ava';
import { SlotManager, type Slot } from '../../actors/resource-manager/slot-manager.js';
import { TroupeError } from '../../core/errors.js';
import type { JobId, TaskExecutorId } from '../../core/ids.js';

const TE1 = 'te-1' as TaskExecutorId;
const TE2 = 'te-2' as TaskExecutorId;
const TE3 = 'te-3' as TaskExecutorId;
const JOB_A = 'job-a' as JobId;
const JOB_B = 'job-b' as JobId;

function cluster(...sizes: number[]): SlotManager {
  const sm = new SlotManager();
  sizes.forEach((n, i) => sm.register(`te-${i + 1}` as TaskExecutorId, n));
  return sm;
}

const perExecutor = (slots: readonly Slot[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const s of slots) out[s.taskExecutor] = (out[s.taskExecutor] ?? 0) + 1;
  return out;
};

// ---- registration ----

test('slot manager - registering executors adds their slots as free', (t) => {
  const sm = cluster(2, 3);
  t.is(sm.total, 5);
  t.is(sm.freeCount, 5);
  t.is(sm.executorCount, 2);
});

test('slot manager - registering the same executor twice is ignored', (t) => {
  const sm = new SlotManager();
  sm.register(TE1, 2);
  sm.register(TE1, 5);
  t.is(sm.total, 2);
  t.is(sm.executorCount, 1);
});

test('slot manager - an empty manager has no slots', (t) => {
  const sm = new SlotManager();
  t.is(sm.total, 0);
  t.is(sm.freeCount, 0);
  t.is(sm.executorCount, 0);
});

// ---- allocation ----

test('slot manager - allocate returns the requested number of distinct slots marked for the job', (t) => {
  const sm = cluster(2, 2);
  const slots = sm.allocate(JOB_A, 3);
  t.is(slots.length, 3);
  t.is(new Set(slots).size, 3);
  t.true(slots.every((s) => s.allocation?.job === JOB_A));
  t.is(new Set(slots.map((s) => s.allocation!.id)).size, 3, 'allocation ids are unique');
  t.is(sm.freeCount, 1);
});

test('slot manager - allocating zero slots grants an empty set', (t) => {
  const sm = cluster(1);
  t.deepEqual(sm.allocate(JOB_A, 0), []);
  t.is(sm.freeCount, 1);
});

test('slot manager - allocating every slot succeeds exactly', (t) => {
  const sm = cluster(2, 1);
  t.is(sm.allocate(JOB_A, 3).length, 3);
  t.is(sm.freeCount, 0);
});

test('slot manager - two jobs never share a slot (invariant 1)', (t) => {
  const sm = cluster(3, 3);
  const a = sm.allocate(JOB_A, 4);
  const b = sm.allocate(JOB_B, 2);
  const keys = [...a, ...b].map((s) => `${s.taskExecutor}/${s.index}`);
  t.is(new Set(keys).size, 6);
  t.true(a.every((s) => s.allocation?.job === JOB_A));
  t.true(b.every((s) => s.allocation?.job === JOB_B));
});

test('slot manager - asking for more slots than free throws TROUPE_NOT_ENOUGH_SLOTS (invariant 2)', (t) => {
  const sm = cluster(2, 1);
  const error = t.throws(() => sm.allocate(JOB_A, 4), { instanceOf: TroupeError, code: 'TROUPE_NOT_ENOUGH_SLOTS' });
  t.deepEqual(error.details, { needed: 4, free: 3, total: 3 });
  t.is(error.message, 'job needs 4 slots, the cluster has 3 free of 3');
});

test('slot manager - a refused request allocates nothing, even if part of it would fit (invariant 2)', (t) => {
  const sm = cluster(2, 2);
  t.throws(() => sm.allocate(JOB_A, 5), { code: 'TROUPE_NOT_ENOUGH_SLOTS' });
  t.is(sm.freeCount, 4);
  t.is(sm.free(JOB_A), 0);
});

test('slot manager - the error reports free slots net of other jobs (invariant 2)', (t) => {
  const sm = cluster(3, 3);
  sm.allocate(JOB_A, 4);
  const error = t.throws(() => sm.allocate(JOB_B, 3), { instanceOf: TroupeError, code: 'TROUPE_NOT_ENOUGH_SLOTS' });
  t.deepEqual(error.details, { needed: 3, free: 2, total: 6 });
  t.is(sm.freeCount, 2);
});

test('slot manager - a request against an empty cluster reports zero free of zero', (t) => {
  const sm = new SlotManager();
  const error = t.throws(() => sm.allocate(JOB_A, 1), { instanceOf: TroupeError, code: 'TROUPE_NOT_ENOUGH_SLOTS' });
  t.deepEqual(error.details, { needed: 1, free: 0, total: 0 });
});

test('slot manager - TROUPE_NOT_ENOUGH_SLOTS is retryable (503, external)', (t) => {
  const sm = new SlotManager();
  const error = t.throws(() => sm.allocate(JOB_A, 1), { instanceOf: TroupeError });
  t.is(error.spec.status, 503);
  t.true(error.spec.retryable);
});

// ---- spreading ----

test('slot manager - slots are spread evenly across executors', (t) => {
  const sm = cluster(4, 4, 4);
  t.deepEqual(perExecutor(sm.allocate(JOB_A, 6)), { [TE1]: 2, [TE2]: 2, [TE3]: 2 });
});

test('slot manager - a request smaller than the number of executors takes one slot per executor', (t) => {
  const sm = cluster(4, 4, 4);
  t.deepEqual(perExecutor(sm.allocate(JOB_A, 3)), { [TE1]: 1, [TE2]: 1, [TE3]: 1 });
});

test('slot manager - spreading fills the remaining executors when one runs out', (t) => {
  const sm = cluster(1, 4, 2);
  t.deepEqual(perExecutor(sm.allocate(JOB_A, 6)), { [TE1]: 1, [TE2]: 3, [TE3]: 2 });
});

test('slot manager - spreading accounts for slots already held by other jobs', (t) => {
  const sm = cluster(2, 2);
  sm.allocate(JOB_A, 1); // te-1 now has 1 free, te-2 has 2
  t.deepEqual(perExecutor(sm.allocate(JOB_B, 3)), { [TE1]: 1, [TE2]: 2 });
});

// ---- free ----

test('slot manager - free returns every slot of the job and reports how many (invariant 3)', (t) => {
  const sm = cluster(3, 3);
  sm.allocate(JOB_A, 4);
  t.is(sm.free(JOB_A), 4);
  t.is(sm.freeCount, 6);
});

test('slot manager - free leaves the slots of other jobs allocated (invariant 3)', (t) => {
  const sm = cluster(3, 3);
  sm.allocate(JOB_A, 2);
  const b = sm.allocate(JOB_B, 3);
  sm.free(JOB_A);
  t.is(sm.freeCount, 3);
  t.true(b.every((s) => s.allocation?.job === JOB_B));
});

test('slot manager - freeing a job that holds nothing returns 0', (t) => {
  const sm = cluster(2);
  t.is(sm.free(JOB_A), 0);
  sm.allocate(JOB_A, 1);
  sm.free(JOB_A);
  t.is(sm.free(JOB_A), 0);
});

test('slot manager - freed slots can be allocated again (invariant 3)', (t) => {
  const sm = cluster(2, 2);
  sm.allocate(JOB_A, 4);
  t.throws(() => sm.allocate(JOB_B, 1), { code: 'TROUPE_NOT_ENOUGH_SLOTS' });
  sm.free(JOB_A);
  const b = sm.allocate(JOB_B, 4);
  t.is(b.length, 4);
  t.true(b.every((s) => s.allocation?.job === JOB_B));
});

test('slot manager - a job can allocate twice and free returns both sets (invariant 3)', (t) => {
  const sm = cluster(4);
  sm.allocate(JOB_A, 1);
  sm.allocate(JOB_A, 2);
  t.is(sm.free(JOB_A), 3);
  t.is(sm.freeCount, 4);
});
