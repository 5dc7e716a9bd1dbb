/**
 * The sqlite backend against the heap backend: the same random operations (seeded PRNG, every
 * state kind with and without TTL, clock moves, sweeps, captures) on both, in lockstep.
 *  - every read answers the same on both, whatever the cache size (eviction and reload are invisible);
 *  - full images are equal; a chain of captures (full + deltas) replayed into a fresh backend of
 *    either kind gives the live state; either backend's captures restore into the other;
 *  - a capture holds the state of its call even when materialized after many more operations and
 *    evictions; restore into other key-group ranges (rescale) keeps exactly the range's part.
 * A failure names its seed.
 */
import test from 'ava';
import { ManualClock } from '../../core/clock.js';
import type { KeyedStateBackend, KeyedStateCapture, KeyedStateChanges } from '../../state/backend.js';
import { HeapKeyedStateBackend } from '../../state/heap/heap-keyed-state-backend.js';
import { keyGroupFor, keyGroupRange, type KeyGroupRange, type StateKey } from '../../state/key-groups.js';
import { openSqliteKeyedStateBackend, type SqliteKeyedStateBackend } from '../../state/sqlite/sqlite-keyed-state-backend.js';
import { seededRng, type Rng } from '../helpers/prng.js';
import { allStateHandles, FULL, MAX_P } from './backend-fixture.js';

const SEEDS = [1, 2, 3, 42, 1337, 65535];
type Handles = ReturnType<typeof allStateHandles>;

const KEY_POOL: unknown[] = [
  ...Array.from({ length: 120 }, (_, i) => i),
  ...Array.from({ length: 40 }, (_, i) => `user-${i}`),
  ...Array.from({ length: 10 }, (_, i) => ({ tenant: i % 3, id: i })),
  [1, 'a'],
  10n ** 20n,
  new Date(86_400_000),
  '\u0000nul',
  'lone \ud800 surrogate',
  1.5,
  -7,
  true,
];

function randomValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([() => rng.int(-100, 100), () => `s${rng.int(0, 9)}`, () => ({ x: rng.int(0, 5), tags: ['t'] }), () => null, () => [rng.int(0, 3)], () => new Map([[1, 'one']])])();
}

function randomUserKey(rng: Rng): unknown {
  return rng.pick<() => unknown>([() => rng.int(0, 8), () => `k${rng.int(0, 5)}`, () => ({ u: rng.int(0, 2) })])();
}

async function use(b: KeyedStateBackend, key: unknown): Promise<void> {
  const pending = b.prefetch([key]);
  if (pending !== undefined) await pending;
  b.setCurrentKey(key);
}

/** One random operation; returns what a read answered (undefined for writes). */
function randomOp(op: number, h: Handles, userKey: unknown, value: unknown, n: number): unknown {
  switch (op) {
    case 0: h.v.update(value); return undefined;
    case 1: h.v.clear(); return undefined;
    case 2: h.l.add(value); return undefined;
    case 3: h.l.addAll([value, n]); return undefined;
    case 4: h.l.update(n % 5 === 0 ? [] : [value]); return undefined;
    case 5: h.m.put(userKey, value); return undefined;
    case 6: h.m.remove(userKey); return undefined;
    case 7: h.r.add(n); return undefined;
    case 8: h.a.add(n); return undefined;
    case 9: h.vt.update(value); return undefined;
    case 10: h.lt.add(value); return undefined;
    case 11: return h.lt.get();
    case 12: h.mt.put(userKey, value); return undefined;
    case 13: return h.mt.get(userKey);
    case 14: h.rt.add(n); return undefined;
    case 15: h.at.add(n); return undefined;
    case 16: return h.vt.value();
    case 17: return h.rt.get();
    case 18: return [h.v.value(), h.l.get(), h.m.entries(), h.r.get(), h.a.get()];
    case 19: return [h.mt.entries(), h.mt.contains(userKey), h.mt.isEmpty(), h.at.get()];
    case 20: h.m.clear(); return undefined;
    case 21: h.mt.putAll([[userKey, value], [n, n]]); return undefined;
    default: h.v.update(n * 1000 + op); return undefined;
  }
}

interface Side {
  readonly b: KeyedStateBackend;
  readonly h: Handles;
  /** The captures taken so far (first is full). */
  readonly chain: KeyedStateChanges[];
}

/** `count` random operations on both sides in lockstep (one clock); every read must agree. */
async function lockstep(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, rng: Rng, clock: ManualClock, sides: readonly Side[], keys: readonly unknown[], count: number, label: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    const key = rng.pick(keys);
    const op = rng.int(0, 26);
    const userKey = randomUserKey(rng);
    const value = randomValue(rng);
    const n = rng.int(0, 9);
    if (op === 23) {
      clock.advance(rng.int(0, 150));
      continue;
    }
    if (op === 24) {
      if (rng.chance(0.3)) for (const s of sides) s.b.cleanupExpired();
      continue;
    }
    if (op === 25 && rng.chance(0.2)) {
      const full = rng.chance(0.3);
      const changes = await Promise.all(sides.map((s) => materialized(s.b.capture(full || s.chain.length === 0))));
      sides.forEach((s, j) => s.chain.push(changes[j]!));
      continue;
    }
    const answers: unknown[] = [];
    for (const s of sides) {
      await use(s.b, key);
      answers.push(randomOp(op, s.h, userKey, value, n));
    }
    for (const answer of answers.slice(1)) t.deepEqual(answer, answers[0], `${label}: op ${i} (${op}) on key ${String(key)}`);
  }
}

async function materialized(capture: KeyedStateCapture): Promise<KeyedStateChanges> {
  try {
    return await capture.materialize();
  } finally {
    capture.release();
  }
}

/** State as rows `${keyGroup}|${name}|${stateKey}` → stored value, from a full image or a replayed chain. */
function modelOf(chain: readonly KeyedStateChanges[], range: KeyGroupRange = FULL): Map<string, unknown> {
  const model = new Map<string, unknown>();
  const id = (g: number, name: string, k: StateKey): string => `${g}|${name}|${typeof k}:${String(k)}`;
  for (const c of chain) {
    const lo = Math.max(range.start, c.range.start);
    const hi = Math.min(range.end, c.range.end);
    if (c.full) {
      for (const k of [...model.keys()]) {
        const g = Number(k.slice(0, k.indexOf('|')));
        if (g >= lo && g <= hi) model.delete(k);
      }
    }
    for (const g of c.keyGroups) {
      if (g.keyGroup < lo || g.keyGroup > hi) continue;
      for (const s of g.states) {
        for (const [k, v] of s.upserts) model.set(id(g.keyGroup, s.name, k), v);
        for (const k of s.deletes) model.delete(id(g.keyGroup, s.name, k));
      }
    }
  }
  return model;
}

const rows = (m: Map<string, unknown>): Array<[string, unknown]> => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));

async function image(b: KeyedStateBackend, range: KeyGroupRange = FULL): Promise<Array<[string, unknown]>> {
  return rows(modelOf([await materialized(b.capture(true))], range));
}

function reads(h: Handles): unknown[] {
  return [h.v.value(), h.l.get(), h.m.entries(), h.r.get(), h.a.get(), h.vt.value(), h.lt.get(), h.mt.entries(), h.rt.get(), h.at.get()];
}

async function readAll(b: KeyedStateBackend, keys: readonly unknown[]): Promise<unknown[]> {
  const h = allStateHandles(b);
  const out: unknown[] = [];
  for (const k of keys) {
    await use(b, k);
    out.push([k, reads(h)]);
  }
  return out;
}

async function sqlite(range: KeyGroupRange, clock: ManualClock, cacheEntries: number): Promise<SqliteKeyedStateBackend> {
  return openSqliteKeyedStateBackend({ maxParallelism: MAX_P, range, clock, cacheEntries, name: 'differential' });
}

// a tiny cache misses on nearly every operation (a store round trip each): fewer seeds there
const RUNS: ReadonlyArray<readonly [cacheEntries: number, seeds: readonly number[], ops: number]> = [
  [3, SEEDS.slice(0, 3), 1500],
  [40, SEEDS.slice(3), 2500],
  [100_000, SEEDS, 2500],
];

for (const [cacheEntries, seeds, ops] of RUNS) {
  test(`differential (cache ${cacheEntries}) - reads, images and capture chains equal the heap backend's, for ${seeds.length} seeds`, async (t) => {
    for (const seed of seeds) {
      const rng = seededRng(seed);
      const clock = new ManualClock(1_000);
      const heap = new HeapKeyedStateBackend(MAX_P, FULL, { clock });
      const sq = await sqlite(FULL, clock, cacheEntries);
      const opened: SqliteKeyedStateBackend[] = [sq];
      try {
        const sides: Side[] = [heap, sq].map((b) => ({ b, h: allStateHandles(b), chain: [] }));
        await lockstep(t, rng, clock, sides, KEY_POOL, ops, `seed ${seed}`);
        const [hs, ss] = sides as [Side, Side];
        ss.chain.push(await materialized(sq.capture(ss.chain.length === 0)));
        hs.chain.push(await materialized(heap.capture(hs.chain.length === 0)));
        const expected = await image(heap);
        t.deepEqual(await image(sq), expected, `seed ${seed}: full images`);
        t.deepEqual(rows(modelOf(ss.chain)), expected, `seed ${seed}: sqlite chain replayed`);
        t.deepEqual(rows(modelOf(hs.chain)), expected, `seed ${seed}: heap chain replayed`);
        // chains restore into either kind of backend, and across kinds
        const intoHeap = new HeapKeyedStateBackend(MAX_P, FULL, { clock: new ManualClock(clock.now()) });
        for (const c of ss.chain) await intoHeap.restore(c);
        t.deepEqual(await image(intoHeap), expected, `seed ${seed}: sqlite chain into heap`);
        const intoSqlite = await sqlite(FULL, new ManualClock(clock.now()), 7);
        opened.push(intoSqlite);
        for (const c of hs.chain) await intoSqlite.restore(c);
        t.deepEqual(await image(intoSqlite), expected, `seed ${seed}: heap chain into sqlite`);
        t.deepEqual(await readAll(intoSqlite, KEY_POOL), await readAll(intoHeap, KEY_POOL), `seed ${seed}: reads after restore`);
      } finally {
        for (const b of opened) await b.dispose();
      }
    }
  });
}

test('differential - rescale: a sqlite image split over 3 sqlite backends and merged into 2 keeps every range exactly', async (t) => {
  for (const seed of SEEDS.slice(0, 3)) {
    const rng = seededRng(seed);
    const clock = new ManualClock(1_000);
    const heap = new HeapKeyedStateBackend(MAX_P, FULL, { clock });
    const sq = await sqlite(FULL, clock, 25);
    const opened: SqliteKeyedStateBackend[] = [sq];
    try {
      await lockstep(t, rng, clock, [heap, sq].map((b) => ({ b, h: allStateHandles(b), chain: [] })), KEY_POOL, 1500, `seed ${seed}`);
      const whole = await materialized(sq.capture(true));
      const threes: SqliteKeyedStateBackend[] = [];
      for (let i = 0; i < 3; i++) {
        const part = await sqlite(keyGroupRange(MAX_P, 3, i), new ManualClock(clock.now()), 10);
        opened.push(part);
        threes.push(part);
        await part.restore(whole);
        t.deepEqual(await image(part), rows(modelOf([whole], part.range)), `seed ${seed}: part ${i} of 3`);
      }
      const images = await Promise.all(threes.map((p) => materialized(p.capture(true))));
      for (let i = 0; i < 2; i++) {
        const range = keyGroupRange(MAX_P, 2, i);
        const merged = await sqlite(range, new ManualClock(clock.now()), 10);
        opened.push(merged);
        for (const im of images) await merged.restore(im);
        t.deepEqual(await image(merged), rows(modelOf([whole], range)), `seed ${seed}: part ${i} of 2`);
        const keys = KEY_POOL.filter((k) => keyGroupFor(k, MAX_P) >= range.start && keyGroupFor(k, MAX_P) <= range.end);
        t.deepEqual(await readAll(merged, keys), await readAll(heap, keys), `seed ${seed}: reads of part ${i} of 2`);
      }
    } finally {
      for (const b of opened) await b.dispose();
    }
  }
});

test('differential - a capture holds the state of its call, however many operations and evictions come before materialize', async (t) => {
  for (const seed of SEEDS.slice(0, 4)) {
    const rng = seededRng(seed);
    const clock = new ManualClock(1_000);
    const heap = new HeapKeyedStateBackend(MAX_P, FULL, { clock });
    const sq = await sqlite(FULL, clock, 5);
    try {
      const sides: Side[] = [heap, sq].map((b) => ({ b, h: allStateHandles(b), chain: [] }));
      await lockstep(t, rng, clock, sides, KEY_POOL, 800, `seed ${seed}`);
      const base = await materialized(sq.capture(true));
      const sqChain = sides[1]!.chain;
      const since = sqChain.length;
      await lockstep(t, rng, clock, sides, KEY_POOL, 400, `seed ${seed}`);
      // captures lockstep took meanwhile are part of the delta chain
      const between = sqChain.slice(since);
      // two captures pending at once, materialized late and in reverse order
      const deltaCapture = sq.capture(false);
      const expectedNow = await image(heap);
      const fullCapture = sq.capture(true);
      await lockstep(t, rng, clock, sides, KEY_POOL, 600, `seed ${seed} after`);
      for (const s of sides) s.b.cleanupExpired();
      const full = await materialized(fullCapture);
      const delta = await materialized(deltaCapture);
      t.deepEqual(rows(modelOf([full])), expectedNow, `seed ${seed}: late full capture`);
      t.deepEqual(rows(modelOf([base, ...between, delta])), expectedNow, `seed ${seed}: late delta over its base`);
      // released without materializing: the next capture is still complete
      sq.capture(true).release();
      t.deepEqual(await image(sq), await image(heap), `seed ${seed}: after a released capture`);
    } finally {
      await sq.dispose();
    }
  }
});
