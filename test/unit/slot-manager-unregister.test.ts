/**
 * SlotManager.unregister (actors/resource-manager/slot-manager.ts). Invariants cited from the module header:
 *  1. a slot is held by at most one job
 *  3. free(job) returns every slot the job held
 *  4. unregister(te) removes its slots and names the jobs that held any of them
 */
import test from 'ava';
import { SlotManager } from '../../actors/resource-manager/slot-manager.js';
import type { JobId, TaskExecutorId } from '../../core/ids.js';

const TE1 = 'te-1' as TaskExecutorId;
const TE2 = 'te-2' as TaskExecutorId;
const TE3 = 'te-3' as TaskExecutorId;
const JOB_A = 'job-a' as JobId;
const JOB_B = 'job-b' as JobId;
const JOB_C = 'job-c' as JobId;

/** TE1 with 3 slots: JOB_A holds 2, JOB_B holds 1. Then TE2 with 2 slots: JOB_C holds 1. */
function scenario(): SlotManager {
  const sm = new SlotManager();
  sm.register(TE1, 3);
  sm.allocate(JOB_A, 2);
  sm.allocate(JOB_B, 1);
  sm.register(TE2, 2);
  sm.allocate(JOB_C, 1);
  return sm;
}

test('slot manager unregister - removes every slot of the TaskExecutor (invariant 4)', (t) => {
  const sm = scenario();
  t.is(sm.total, 5);
  sm.unregister(TE1);
  t.is(sm.total, 2);
  t.is(sm.executorCount, 1);
});

test('slot manager unregister - returns the jobs that held slots there, each once (invariant 4)', (t) => {
  const sm = scenario();
  const jobs = sm.unregister(TE1);
  t.is(jobs.length, 2);
  t.deepEqual([...jobs].sort(), [JOB_A, JOB_B]);
});

test('slot manager unregister - a job holding several slots there is named exactly once (invariant 4)', (t) => {
  const sm = new SlotManager();
  sm.register(TE1, 4);
  sm.allocate(JOB_A, 4);
  t.deepEqual(sm.unregister(TE1), [JOB_A]);
});

test('slot manager unregister - an executor with only free slots names no job (invariant 4)', (t) => {
  const sm = scenario();
  sm.free(JOB_C);
  t.deepEqual(sm.unregister(TE2), []);
  t.is(sm.total, 3);
});

test('slot manager unregister - a job whose slots were freed before is not named (invariants 3 and 4)', (t) => {
  const sm = scenario();
  t.is(sm.free(JOB_A), 2);
  t.deepEqual(sm.unregister(TE1), [JOB_B]);
});

test('slot manager unregister - jobs holding slots only on other executors are not named (invariant 4)', (t) => {
  const sm = scenario();
  t.deepEqual(sm.unregister(TE2), [JOB_C]); // JOB_A and JOB_B hold slots only on TE1
});

test('slot manager unregister - leaves other executors` slots and their allocations untouched (invariant 4)', (t) => {
  const sm = scenario();
  const freeBefore = sm.freeCount;
  sm.unregister(TE1);
  t.is(sm.total, 2);
  t.is(sm.freeCount, freeBefore); // TE1 had no free slot; TE2 keeps its one free slot
  t.is(sm.freeCount, 1);
  // JOB_C still holds its slot on TE2: freeing it returns exactly one
  t.is(sm.free(JOB_C), 1);
  t.is(sm.freeCount, 2);
});

test('slot manager unregister - a job spread over executors keeps its slots on the others (invariant 4)', (t) => {
  const sm = new SlotManager();
  sm.register(TE1, 2);
  sm.register(TE2, 2);
  sm.register(TE3, 2);
  const slots = sm.allocate(JOB_A, 3); // one per executor
  t.deepEqual([...new Set(slots.map((s) => s.taskExecutor))].sort(), [TE1, TE2, TE3]);
  t.deepEqual(sm.unregister(TE2), [JOB_A]);
  t.is(sm.total, 4);
  t.is(sm.freeCount, 2);
  t.is(sm.free(JOB_A), 2);
});

test('slot manager unregister - slots of a removed executor are never allocated again (invariants 1 and 4)', (t) => {
  const sm = new SlotManager();
  sm.register(TE1, 2);
  sm.register(TE2, 2);
  sm.unregister(TE1);
  const slots = sm.allocate(JOB_A, 2);
  t.true(slots.every((s) => s.taskExecutor === TE2));
  t.throws(() => sm.allocate(JOB_B, 1), { code: 'TROUPE_NOT_ENOUGH_SLOTS' });
});

test('slot manager unregister - an unknown TaskExecutor id returns [] and changes nothing (invariant 4)', (t) => {
  const sm = scenario();
  t.deepEqual(sm.unregister('te-unknown' as TaskExecutorId), []);
  t.is(sm.total, 5);
  t.is(sm.freeCount, 1);
  t.is(sm.executorCount, 2);
});

test('slot manager unregister - unregistering twice returns [] the second time (invariant 4)', (t) => {
  const sm = scenario();
  t.is(sm.unregister(TE1).length, 2);
  t.deepEqual(sm.unregister(TE1), []);
  t.is(sm.total, 2);
});

test('slot manager unregister - on an empty manager returns []', (t) => {
  const sm = new SlotManager();
  t.deepEqual(sm.unregister(TE1), []);
  t.is(sm.executorCount, 0);
});

test('slot manager unregister - an unregistered executor can register again with fresh free slots', (t) => {
  const sm = scenario();
  sm.unregister(TE1);
  sm.register(TE1, 2);
  t.is(sm.executorCount, 2);
  t.is(sm.total, 4);
  t.is(sm.freeCount, 3);
  // the old allocations did not come back with it
  t.deepEqual(sm.unregister(TE1), []);
});

test('slot manager unregister - freeing a job after its executor was removed counts only the remaining slots (invariants 3 and 4)', (t) => {
  const sm = scenario();
  sm.unregister(TE1);
  t.is(sm.free(JOB_A), 0);
  t.is(sm.free(JOB_B), 0);
});
