/**
 * SubtaskCheckpointer chain rules (actors/task/subtask-checkpointer.ts, invariant 4): a delta is
 * uploaded only on top of the capture it was taken after, and never on pieces of an aborted
 * checkpoint; otherwise the task declines and the next capture is full. Found in review: a
 * completed checkpoint could miss updates, or reference deleted pieces.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { SubtaskCheckpointer, restoreKeyed } from '../../actors/task/subtask-checkpointer.js';
import type { TaskDeploymentDescriptor } from '../../actors/protocol/deployment.js';
import type { TaskStateSnapshot } from '../../actors/protocol/job-master.js';
import { HeapKeyedStateBackend } from '../../state/heap/heap-keyed-state-backend.js';
import { MemoryCheckpointStore } from '../../state/checkpoint-storage/memory-checkpoint-store.js';
import { JobCheckpointStorage } from '../../state/checkpoint-storage/job-checkpoint-storage.js';
import { keyedHandleFiles, type KeyedStateHandle } from '../../state/snapshot/keyed-snapshot.js';

async function harness() {
  const store = new MemoryCheckpointStore();
  const jobId = 'job-chain';
  const storage = new JobCheckpointStorage(store, jobId);
  await storage.registerEpoch(1);
  const tdd = { jobId, subtask: 0, attemptId: 'job-chain/v#0@0', vertex: { id: 'v' } } as unknown as TaskDeploymentDescriptor;
  const acks = new Map<number, TaskStateSnapshot>();
  const declines = new Map<number, string>();
  const checkpointer = new SubtaskCheckpointer(tdd, { mode: 'exactly-once', periodic: true, storage: 'memory:unused', epoch: 1 }, { kind: 'heap', incremental: true }, {
    acknowledge: (id, state) => acks.set(id, state),
    decline: (id, reason) => declines.set(id, reason.message),
    openStore: () => store,
  });
  const backend = new HeapKeyedStateBackend(128, { start: 0, end: 127 });
  const value = backend.getValueState<number>({ name: 'v' });
  const put = (k: number, x: number): void => {
    backend.setCurrentKey(k);
    value.update(x);
  };
  const snap = (id: number): boolean => {
    const capture = checkpointer.capture(backend, id, undefined);
    checkpointer.complete(id, undefined, { keyed: { operatorId: 'op', capture }, operatorState: [] });
    return capture.full;
  };
  const handle = (id: number): KeyedStateHandle => acks.get(id)!.operators.op!.keyed!;
  return { store, storage, jobId, acks, declines, checkpointer, put, snap, handle };
}

test('chain - a delta whose base checkpoint was aborted before its upload finished is declined, the next capture is full and restores exactly', async (t) => {
  const h = await harness();
  h.put(1, 1);
  t.true(h.snap(1));
  await sleep(20);
  h.checkpointer.onOutcome(1, 'complete');
  await h.storage.finalize(1, 1, { timestamp: 1, files: keyedHandleFiles(h.handle(1)) });
  h.put(2, 2);
  t.false(h.snap(2));
  h.put(3, 3);
  t.false(h.snap(3));
  h.checkpointer.onOutcome(2, 'aborted'); // before checkpoint 2's upload ran
  await sleep(20);
  t.false(h.acks.has(3), 'checkpoint 3 is not acked: its delta would miss the changes captured for 2');
  t.regex(h.declines.get(3) ?? '', /builds on checkpoint 2/);
  t.true(h.snap(4), 'the next capture is full');
  await sleep(20);
  await h.storage.finalize(4, 1, { timestamp: 4, files: keyedHandleFiles(h.handle(4)) });
  const restored = new HeapKeyedStateBackend(128, { start: 0, end: 127 });
  await restoreKeyed({ checkpointId: 4, root: 'memory:unused', base: h.jobId, jobId: h.jobId, operators: {} }, [h.handle(4)], restored, () => h.store);
  const v = restored.getValueState<number>({ name: 'v' });
  for (const k of [1, 2, 3]) {
    restored.setCurrentKey(k);
    t.is(v.value(), k);
  }
});

test('chain - after an acked full checkpoint is aborted (its pieces deleted), the next capture is full, not a delta on deleted pieces', async (t) => {
  const h = await harness();
  for (let k = 0; k < 10; k++) h.put(k, 1);
  t.true(h.snap(1));
  await sleep(20);
  h.checkpointer.onOutcome(1, 'aborted');
  await h.storage.discardHandles(keyedHandleFiles(h.handle(1))); // what the JobMaster does
  h.put(3, 2);
  t.true(h.snap(2), 'full');
  await sleep(20);
  await t.notThrowsAsync(h.storage.finalize(2, 1, { timestamp: 2, files: keyedHandleFiles(h.handle(2)) }));
});
