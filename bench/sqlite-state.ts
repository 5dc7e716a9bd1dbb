/**
 * Keyed state throughput, heap vs sqlite (figures and ratios, never pass/fail): a keyed count
 * (ValueState<number>) over `keys` keys in one subtask owning all 128 key groups, records in
 * batches of 256 as the task prefetches them (one network buffer), the sqlite cache holding
 * `cache` keys. Two key streams: uniform over all keys (the cache holds cache/keys of them: mostly
 * misses) and skewed (90% of records on a hot 5% of the keys). Then the captures of a checkpoint.
 *
 *   node dist/bench/sqlite-state.js [--keys N] [--records R] [--cache C]
 */
import { parseArgs } from 'node:util';
import type { KeyedStateBackend, KeyedStateCapture } from '../state/backend.js';
import { HeapKeyedStateBackend } from '../state/heap/heap-keyed-state-backend.js';
import { openSqliteKeyedStateBackend } from '../state/sqlite/sqlite-keyed-state-backend.js';

const MAX_P = 128;
const FULL = { start: 0, end: MAX_P - 1 };
const BATCH = 256;

const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} K`);
const mem = (): string => `heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`;

/** xorshift32: the same key streams for both backends. */
function keyStream(seed: number, keys: number, records: number, skewed: boolean): Int32Array {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const hot = Math.max(1, Math.floor(keys / 20));
  const out = new Int32Array(records);
  for (let i = 0; i < records; i++) out[i] = skewed && next() < 0.9 ? Math.floor(next() * hot) : Math.floor(next() * keys);
  return out;
}

async function run(backend: KeyedStateBackend, stream: Int32Array): Promise<{ recordsPerSecond: number; waits: number }> {
  const count = backend.getValueState<number>({ name: 'count' });
  const batch: number[] = new Array<number>(BATCH);
  let waits = 0;
  const start = performance.now();
  for (let from = 0; from < stream.length; from += BATCH) {
    const n = Math.min(BATCH, stream.length - from);
    batch.length = n;
    for (let i = 0; i < n; i++) batch[i] = stream[from + i]!;
    const loading = backend.prefetch(batch);
    if (loading !== undefined) {
      waits++;
      await loading;
    }
    for (let i = 0; i < n; i++) {
      backend.setCurrentKey(batch[i]);
      count.update((count.value() ?? 0) + 1);
    }
  }
  return { recordsPerSecond: stream.length / ((performance.now() - start) / 1000), waits };
}

async function timed(capture: () => KeyedStateCapture): Promise<{ syncMs: number; totalMs: number; entries: number }> {
  const start = performance.now();
  const c = capture();
  const syncMs = performance.now() - start;
  try {
    const changes = await c.materialize();
    const entries = changes.keyGroups.reduce((n, g) => n + g.states.reduce((m, s) => m + s.upserts.length + s.deletes.length, 0), 0);
    return { syncMs, totalMs: performance.now() - start, entries };
  } finally {
    c.release();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { keys: { type: 'string', default: '1000000' }, records: { type: 'string', default: '3000000' }, cache: { type: 'string', default: '100000' } } });
  const keys = Number(values.keys);
  const records = Number(values.records);
  const cache = Number(values.cache);
  console.log(`Keyed count: ${fmt(records)} records over ${fmt(keys)} keys, batches of ${BATCH}, sqlite cache ${fmt(cache)} keys, Node ${process.version}`);
  for (const skewed of [false, true]) {
    const stream = keyStream(7, keys, records, skewed);
    const label = skewed ? 'skewed (90% on 5% of keys)' : 'uniform';
    const heap = new HeapKeyedStateBackend(MAX_P, FULL);
    const h = await run(heap, stream);
    console.log(`  ${label}`);
    console.log(`    heap    ${fmt(h.recordsPerSecond)} records/s   (${mem()})`);
    await heap.dispose();
    const sqlite = await openSqliteKeyedStateBackend({ maxParallelism: MAX_P, range: FULL, cacheEntries: cache, name: 'bench' });
    try {
      const s = await run(sqlite, stream);
      console.log(`    sqlite  ${fmt(s.recordsPerSecond)} records/s   (${mem()}; waited for ${s.waits} of ${Math.ceil(records / BATCH)} batches; ${sqlite.stats().resident} keys resident)`);
      console.log(`    ratio sqlite / heap ${(s.recordsPerSecond / h.recordsPerSecond).toFixed(2)}`);
      if (!skewed) {
        const full = await timed(() => sqlite.capture(true));
        console.log(`    full capture: sync ${full.syncMs.toFixed(1)} ms, materialized ${full.totalMs.toFixed(0)} ms, ${fmt(full.entries)} entries`);
        await run(sqlite, keyStream(11, keys, Math.floor(keys / 100), false));
        const delta = await timed(() => sqlite.capture(false));
        console.log(`    delta capture after 1% of keys changed: sync ${delta.syncMs.toFixed(1)} ms, materialized ${delta.totalMs.toFixed(0)} ms, ${fmt(delta.entries)} entries`);
      }
    } finally {
      await sqlite.dispose();
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
