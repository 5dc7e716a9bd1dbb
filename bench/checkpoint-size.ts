/**
 * Checkpoint size and time of the heap keyed backend, full vs incremental (figures, never
 * pass/fail): `keys` keys of ValueState { count, last } in one subtask owning all 128 key groups,
 * a full checkpoint into a file-system checkpoint store in a temp dir, 1% of the keys changed, an
 * incremental checkpoint; then the full checkpoint and the chain restored into fresh backends.
 *
 *   npm run bench -- checkpoint-size [--keys N]
 *
 * "sync" is the capture the task takes between two records (a full one freezes key groups, copy on
 * write; a delta copies the changed entries); "total" adds materializing, encoding and writing
 * (fsync'd files) up to the finalized checkpoint.
 */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { FsCheckpointStore, JobCheckpointStorage } from '../state/checkpoint-storage/index.js';
import { HeapKeyedStateBackend } from '../state/heap/heap-keyed-state-backend.js';
import { keyedHandleFiles, restoreKeyedState, writeKeyedSnapshot, type KeyedStateHandle } from '../state/snapshot/keyed-snapshot.js';

const MAX_P = 128;
const JOB = 'bench0checkpoint0size000000000000';
const STATE = { name: 'count' } as const;

interface Counter {
  count: number;
  last: number;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const ms = (x: number): string => `${x.toFixed(1)} ms`;
const heap = (): string => `heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`;
const bytesOf = (h: KeyedStateHandle, from = 0): number => h.pieces.slice(from).reduce((n, p) => n + p.bytes, 0);

async function checkpoint(
  storage: JobCheckpointStorage,
  backend: HeapKeyedStateBackend,
  previous: KeyedStateHandle | null,
  checkpointId: number,
): Promise<{ handle: KeyedStateHandle; syncMs: number; totalMs: number }> {
  const start = performance.now();
  const capture = backend.capture(previous === null);
  const syncMs = performance.now() - start;
  const handle = await writeKeyedSnapshot(storage.writer(checkpointId, 0), capture, capture.full ? null : previous, { operatorId: 'count', subtask: 0, checkpointId });
  await storage.finalize(checkpointId, 0, { timestamp: Date.now(), files: keyedHandleFiles(handle) });
  return { handle, syncMs, totalMs: performance.now() - start };
}

async function restoreInto(storage: JobCheckpointStorage, handle: KeyedStateHandle): Promise<{ backend: HeapKeyedStateBackend; restoreMs: number }> {
  const backend = new HeapKeyedStateBackend(MAX_P, { start: 0, end: MAX_P - 1 });
  const start = performance.now();
  await restoreKeyedState(storage.reader(), [handle], backend);
  return { backend, restoreMs: performance.now() - start };
}

function check(backend: HeapKeyedStateBackend, keys: number): void {
  const state = backend.getValueState<Counter>(STATE);
  if (backend.sizes()[STATE.name] !== keys) throw new Error(`restored ${backend.sizes()[STATE.name]} keys, expected ${keys}`);
  for (let k = 0; k < keys; k += Math.max(1, Math.floor(keys / 1000))) {
    backend.setCurrentKey(k);
    const want = k % 100 === 0 ? k + 1 : k;
    if (state.value()?.count !== want) throw new Error(`key ${k}: restored ${JSON.stringify(state.value())}, expected count ${want}`);
  }
}

export async function checkpointSize(keys: number): Promise<void> {
  if (!Number.isSafeInteger(keys) || keys < 100) throw new Error(`--keys must be an integer >= 100, got ${keys}`);
  const root = await fs.mkdtemp(nodePath.join(tmpdir(), 'troupe-bench-ckpt-'));
  console.log(`Checkpoint size: heap backend, ${keys.toLocaleString('en')} keys of ValueState { count, last }, max parallelism ${MAX_P}, one subtask; fs store in ${root}; Node ${process.version}`);
  try {
    const storage = new JobCheckpointStorage(new FsCheckpointStore(root), JOB);
    let live: HeapKeyedStateBackend | null = new HeapKeyedStateBackend(MAX_P, { start: 0, end: MAX_P - 1 });
    const state = live.getValueState<Counter>(STATE);
    let start = performance.now();
    for (let k = 0; k < keys; k++) {
      live.setCurrentKey(k);
      state.update({ count: k, last: k * 7 });
    }
    console.log(`  populate          ${ms(performance.now() - start)}  (${heap()})`);

    const full = await checkpoint(storage, live, null, 1);
    const fullBytes = bytesOf(full.handle);
    console.log(`  full checkpoint   ${mib(fullBytes)} in ${full.handle.pieces.length} file(s)  sync ${ms(full.syncMs)}  total ${ms(full.totalMs)}  (${heap()})`);

    start = performance.now();
    let changed = 0;
    for (let k = 0; k < keys; k += 100) {
      live.setCurrentKey(k);
      state.update({ count: k + 1, last: k * 7 + 1 });
      changed++;
    }
    console.log(`  change 1%         ${changed.toLocaleString('en')} keys in ${ms(performance.now() - start)}`);

    const incremental = await checkpoint(storage, live, full.handle, 2);
    const deltaBytes = bytesOf(incremental.handle, full.handle.pieces.length);
    console.log(`  incremental       ${mib(deltaBytes)} in ${incremental.handle.pieces.length - full.handle.pieces.length} file(s)  sync ${ms(incremental.syncMs)}  total ${ms(incremental.totalMs)}  (chain of ${incremental.handle.captures.length} captures)`);
    console.log(`  ratio incremental/full  bytes ${(deltaBytes / fullBytes).toFixed(4)}  total time ${(incremental.totalMs / full.totalMs).toFixed(4)}  (changed keys ${(changed / keys).toFixed(4)})`);

    live = null; // restores run without the live state on the heap
    const fromFull = await restoreInto(storage, full.handle);
    console.log(`  restore full      ${ms(fromFull.restoreMs)}  (${heap()})`);
    const fullState = fromFull.backend.getValueState<Counter>(STATE);
    fromFull.backend.setCurrentKey(100);
    if (fullState.value()?.count !== 100) throw new Error('the full checkpoint restored the wrong value');
    await fromFull.backend.dispose();

    const fromChain = await restoreInto(storage, incremental.handle);
    check(fromChain.backend, keys);
    console.log(`  restore chain     ${ms(fromChain.restoreMs)}  (full + 1 delta; checked)`);
    await fromChain.backend.dispose();
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}
