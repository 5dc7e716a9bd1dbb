/**
 * State larger than the cache (sqlite-keyed-state-backend.ts, invariants 1, 4 and 5): keyed counts
 * over 50 000 keys through a cache of 100 entries, in batches as the task prefetches them.
 */
import test from 'ava';
import { ManualClock } from '../../core/clock.js';
import type { KeyedStateCapture, KeyedStateChanges } from '../../state/backend.js';
import { keyGroupFor } from '../../state/key-groups.js';
import { openSqliteKeyedStateBackend } from '../../state/sqlite/sqlite-keyed-state-backend.js';
import { seededRng } from '../helpers/prng.js';

const MAX_P = 128;
const KEYS = 50_000;
const CACHE = 100;
const BATCH = 256;

async function materialized(capture: KeyedStateCapture): Promise<KeyedStateChanges> {
  try {
    return await capture.materialize();
  } finally {
    capture.release();
  }
}

/** `${name}|${stateKey}` → stored value after replaying the chain. */
function replay(chain: readonly KeyedStateChanges[]): Map<string, unknown> {
  const model = new Map<string, unknown>();
  for (const c of chain) {
    if (c.full) model.clear();
    for (const g of c.keyGroups) {
      for (const s of g.states) {
        for (const [k, v] of s.upserts) model.set(`${s.name}|${String(k)}`, v);
        for (const k of s.deletes) model.delete(`${s.name}|${String(k)}`);
      }
    }
  }
  return model;
}

test('eviction - 50 000 keys through a cache of 100: counts are exact, memory stays bounded, captures replay to the live state', async (t) => {
  const clock = new ManualClock(1_000);
  const b = await openSqliteKeyedStateBackend({ maxParallelism: MAX_P, range: { start: 0, end: MAX_P - 1 }, clock, cacheEntries: CACHE, name: 'eviction' });
  try {
    const count = b.getValueState<number>({ name: 'count' });
    const seen = b.getListState<number>({ name: 'passes' });
    const rng = seededRng(4242);
    const keys = Array.from({ length: KEYS }, (_, i) => (i % 3 === 0 ? `user-${i}` : i));
    const chain: KeyedStateChanges[] = [];
    let maxResident = 0;
    let maxPending = 0;
    for (let pass = 1; pass <= 3; pass++) {
      // a fresh order per pass: nothing useful stays cached between passes
      for (let i = keys.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [keys[i], keys[j]] = [keys[j]!, keys[i]!];
      }
      for (let from = 0; from < keys.length; from += BATCH) {
        const batch = keys.slice(from, from + BATCH);
        const loading = b.prefetch(batch);
        if (loading !== undefined) await loading;
        for (const key of batch) {
          b.setCurrentKey(key);
          count.update((count.value() ?? 0) + 1);
          if (typeof key === 'string') seen.add(pass);
        }
        const stats = b.stats();
        maxResident = Math.max(maxResident, stats.resident);
        maxPending = Math.max(maxPending, stats.pendingWriteRows);
      }
      chain.push(await materialized(b.capture(pass === 1)));
    }
    t.true(maxResident <= CACHE + 2 * BATCH, `at most the cache and two prefetched batches resident (saw ${maxResident})`);
    t.true(maxPending <= 2 * (CACHE + 2 * BATCH), `queued write-back bounded (saw ${maxPending} rows)`);
    // reads through the cache, a batch at a time, in key order
    for (let from = 0; from < 2_000; from += BATCH) {
      const batch = keys.slice(from, from + BATCH);
      const loading = b.prefetch(batch);
      if (loading !== undefined) await loading;
      for (const key of batch) {
        b.setCurrentKey(key);
        t.is(count.value(), 3);
        t.deepEqual(seen.get(), typeof key === 'string' ? [1, 2, 3] : []);
      }
    }
    const image = await materialized(b.capture(true));
    const model = replay([image]);
    t.is(model.size, KEYS + Math.ceil(KEYS / 3));
    t.true([...model].every(([k, v]) => (k.startsWith('count|') ? v === 3 : (v as number[]).join() === '1,2,3')));
    t.deepEqual(replay(chain), model, 'a full capture and two deltas replay to the live state');
    for (const g of image.keyGroups) {
      for (const s of g.states) for (const [k] of s.upserts) if (keyGroupFor(k, MAX_P) !== g.keyGroup) t.fail(`key ${String(k)} in key group ${g.keyGroup}`);
    }
  } finally {
    await b.dispose();
  }
});

test('eviction - a map per key larger than the cache is written back and read back whole', async (t) => {
  const b = await openSqliteKeyedStateBackend({ maxParallelism: MAX_P, range: { start: 0, end: MAX_P - 1 }, cacheEntries: 10, name: 'maps' });
  try {
    const m = b.getMapState<number, string>({ name: 'm' });
    for (let round = 0; round < 3; round++) {
      for (let key = 0; key < 200; key++) {
        const loading = b.prefetch([key]);
        if (loading !== undefined) await loading;
        b.setCurrentKey(key);
        for (let u = 0; u < 20; u++) m.put(round * 20 + u, `${key}:${round}:${u}`);
      }
    }
    for (let key = 0; key < 200; key += 7) {
      const loading = b.prefetch([key]);
      if (loading !== undefined) await loading;
      b.setCurrentKey(key);
      t.is(m.keys().length, 60);
      t.is(m.get(45), `${key}:2:5`);
    }
  } finally {
    await b.dispose();
  }
});
