/**
 * Snapshot, restore and rescale of the heap keyed backend (state/heap/heap-keyed-state-backend.ts):
 *  3. a snapshot of the dirty key groups restored over a snapshot taken at mark() gives the current state
 *  4. restore(snapshot(r)) reproduces the state of r exactly; snapshots are plain data
 *  5. restoring replaces a key group; key groups outside the range are skipped
 * Random operations come from a seeded PRNG; a failure prints its seed.
 */
import test from 'ava';
import { decodeValue, encodeValue } from '../../actors/network/record-codec.js';
import { ManualClock } from '../../core/clock.js';
import { HeapKeyedStateBackend, type KeyedStateSnapshot } from '../../state/heap/heap-keyed-state-backend.js';
import { keyGroupFor, keyGroupRange, type KeyGroupRange } from '../../state/key-groups.js';
import { seededRng, type Rng } from '../helpers/prng.js';
import { allStateHandles, contentOf, FULL, MAX_P } from './backend-fixture.js';

const SEEDS = [1, 2, 3, 42, 1337, 65535, 987654321, 20240607];

const KEY_POOL: unknown[] = [
  ...Array.from({ length: 60 }, (_, i) => i),
  ...Array.from({ length: 30 }, (_, i) => `user-${i}`),
  ...Array.from({ length: 10 }, (_, i) => ({ tenant: i % 3, id: i })),
  [1, 'a'],
  10n ** 20n,
  new Date(86_400_000),
  '\u0000nul',
];

function randomValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([() => rng.int(-100, 100), () => `s${rng.int(0, 9)}`, () => ({ x: rng.int(0, 5), tags: ['t'] }), () => null, () => [rng.int(0, 3)]])();
}

function randomUserKey(rng: Rng): unknown {
  return rng.pick<() => unknown>([() => rng.int(0, 8), () => `k${rng.int(0, 5)}`, () => ({ u: rng.int(0, 2) })])();
}

/** Applies `count` random operations to keys of `range` (every state kind, clock advances, sweeps). */
function randomOps(rng: Rng, b: HeapKeyedStateBackend, clock: ManualClock, count: number, range: KeyGroupRange = b.range): void {
  const keys = KEY_POOL.filter((k) => {
    const g = keyGroupFor(k, MAX_P);
    return g >= range.start && g <= range.end;
  });
  if (keys.length === 0) return;
  const h = allStateHandles(b);
  for (let i = 0; i < count; i++) {
    b.setCurrentKey(rng.pick(keys));
    const op = rng.int(0, 25);
    switch (op) {
      case 0: h.v.update(randomValue(rng)); break;
      case 1: h.v.clear(); break;
      case 2: h.l.add(randomValue(rng)); break;
      case 3: h.l.addAll([randomValue(rng), randomValue(rng)]); break;
      case 4: h.l.update(rng.chance(0.2) ? [] : [randomValue(rng)]); break;
      case 5: h.m.put(randomUserKey(rng), randomValue(rng)); break;
      case 6: h.m.remove(randomUserKey(rng)); break;
      case 7: h.r.add(rng.int(0, 9)); break;
      case 8: h.a.add(rng.int(0, 9)); break;
      case 9: h.vt.update(randomValue(rng)); break;
      case 10: h.lt.add(randomValue(rng)); break;
      case 11: h.lt.get(); break;
      case 12: h.mt.put(randomUserKey(rng), randomValue(rng)); break;
      case 13: h.mt.get(randomUserKey(rng)); break;
      case 14: h.rt.add(rng.int(0, 9)); break;
      case 15: h.at.add(rng.int(0, 9)); break;
      case 16: clock.advance(rng.int(0, 120)); break;
      case 17: if (rng.chance(0.1)) b.cleanupExpired(); break;
      case 18: if (rng.chance(0.3)) h.m.clear(); break;
      case 19: h.vt.value(); break;
      case 20: h.rt.get(); break;
      default: h.v.update(rng.int(0, 1000)); break;
    }
  }
}

/** What user code would read for every key and state (TTL reads change state: run on both sides alike). */
function readEverything(b: HeapKeyedStateBackend, keys: readonly unknown[]): unknown[] {
  const h = allStateHandles(b);
  return keys.map((key) => {
    b.setCurrentKey(key);
    return [key, h.v.value(), h.l.get(), h.m.entries(), h.r.get(), h.a.get(), h.vt.value(), h.lt.get(), h.mt.entries(), h.rt.get(), h.at.get()];
  });
}

function keysIn(range: KeyGroupRange): unknown[] {
  return KEY_POOL.filter((k) => keyGroupFor(k, MAX_P) >= range.start && keyGroupFor(k, MAX_P) <= range.end);
}

function fresh(range: KeyGroupRange, now: number): { backend: HeapKeyedStateBackend; clock: ManualClock } {
  const clock = new ManualClock(now);
  return { backend: new HeapKeyedStateBackend(MAX_P, range, { clock }), clock };
}

function populated(seed: number, ops = 3000): { backend: HeapKeyedStateBackend; clock: ManualClock } {
  const f = fresh(FULL, 1_000);
  randomOps(seededRng(seed), f.backend, f.clock, ops);
  return f;
}

test('snapshot - restore into a fresh backend gives identical state, for 8 random seeds', (t) => {
  for (const seed of SEEDS) {
    const original = populated(seed);
    const snapshot = original.backend.snapshotKeyGroups();
    const copy = fresh(FULL, original.clock.now());
    t.is(copy.backend.restoreKeyGroups(snapshot), MAX_P);
    t.deepEqual(copy.backend.snapshotKeyGroups(), snapshot, `seed ${seed}: snapshots`);
    t.deepEqual(contentOf(copy.backend), contentOf(original.backend), `seed ${seed}: contents`);
    t.deepEqual(readEverything(copy.backend, KEY_POOL), readEverything(original.backend, KEY_POOL), `seed ${seed}: reads`);
  }
});

test('snapshot - a snapshot survives the record codec (plain data only) and restores identically', (t) => {
  for (const seed of SEEDS) {
    const original = populated(seed);
    const snapshot = original.backend.snapshotKeyGroups();
    const decoded = decodeValue(encodeValue(snapshot)) as KeyedStateSnapshot;
    t.deepEqual(decoded, snapshot, `seed ${seed}`);
    const copy = fresh(FULL, original.clock.now());
    copy.backend.restoreKeyGroups(decoded);
    t.deepEqual(readEverything(copy.backend, KEY_POOL), readEverything(original.backend, KEY_POOL), `seed ${seed}`);
  }
});

test('rescale - splitting one backend into 2, 3 and 7 by key-group range gives each exactly its part', (t) => {
  for (const seed of SEEDS.slice(0, 4)) {
    const original = populated(seed);
    const snapshot = original.backend.snapshotKeyGroups();
    const expectedReads = readEverything(populated(seed).backend, KEY_POOL);
    for (const p of [2, 3, 7]) {
      const parts = Array.from({ length: p }, (_, i) => fresh(keyGroupRange(MAX_P, p, i), original.clock.now()));
      for (const part of parts) {
        const range = part.backend.range;
        t.is(part.backend.restoreKeyGroups(snapshot), range.end - range.start + 1);
        t.deepEqual(part.backend.snapshotKeyGroups(), original.backend.snapshotKeyGroups(range), `seed ${seed} p ${p} range ${range.start}-${range.end}`);
      }
      t.deepEqual(parts.flatMap((part) => contentOf(part.backend)).sort(), contentOf(original.backend).sort(), `seed ${seed} p ${p}: union`);
      const reads = parts.flatMap((part) => readEverything(part.backend, keysIn(part.backend.range)));
      const byKey = (rows: unknown[]): unknown[] => [...rows].sort((x, y) => (KEY_POOL.indexOf((x as unknown[])[0]) - KEY_POOL.indexOf((y as unknown[])[0])));
      t.deepEqual(byKey(reads), byKey(expectedReads), `seed ${seed} p ${p}: reads`);
    }
  }
});

test('rescale - 3 backends merged into 1 and into 2 hold the union of their states', (t) => {
  for (const seed of SEEDS.slice(0, 4)) {
    const rng = seededRng(seed);
    const olds = [0, 1, 2].map((i) => fresh(keyGroupRange(MAX_P, 3, i), 1_000));
    for (let round = 0; round < 5; round++) for (const old of olds) randomOps(rng, old.backend, old.clock, 300);
    const snapshots = olds.map((o) => o.backend.snapshotKeyGroups());
    const now = Math.max(...olds.map((o) => o.clock.now()));
    for (const o of olds) o.clock.advance(now - o.clock.now());
    const union = olds.flatMap((o) => contentOf(o.backend)).sort();
    const one = fresh(FULL, now);
    for (const s of snapshots) one.backend.restoreKeyGroups(s);
    t.deepEqual(contentOf(one.backend).sort(), union, `seed ${seed}: into 1`);
    const two = [0, 1].map((i) => fresh(keyGroupRange(MAX_P, 2, i), now));
    for (const n of two) for (const s of snapshots) n.backend.restoreKeyGroups(s);
    t.deepEqual(two.flatMap((n) => contentOf(n.backend)).sort(), union, `seed ${seed}: into 2`);
    const oldReads = olds.flatMap((o) => readEverything(o.backend, keysIn(o.backend.range)));
    t.deepEqual(readEverything(one.backend, olds.flatMap((o) => keysIn(o.backend.range))), oldReads, `seed ${seed}: reads`);
  }
});

test('change tracking - a snapshot at mark() plus a snapshot of the dirty key groups restores the current state', (t) => {
  for (const seed of SEEDS) {
    const rng = seededRng(seed);
    const live = fresh(FULL, 1_000);
    randomOps(rng, live.backend, live.clock, 2000);
    const base = live.backend.snapshotKeyGroups();
    live.backend.mark();
    randomOps(rng, live.backend, live.clock, rng.int(0, 200));
    const dirty = live.backend.dirtyKeyGroups();
    const delta = live.backend.snapshotKeyGroups(FULL, dirty);
    t.is(delta.keyGroups.length, dirty.length);
    const replayed = fresh(FULL, live.clock.now());
    replayed.backend.restoreKeyGroups(base);
    replayed.backend.restoreKeyGroups(delta);
    t.deepEqual(replayed.backend.snapshotKeyGroups(), live.backend.snapshotKeyGroups(), `seed ${seed}: ${dirty.length} dirty key groups`);
  }
});

test('change tracking - clean key groups hold exactly the state they held at mark()', (t) => {
  const rng = seededRng(7);
  const live = fresh(FULL, 1_000);
  randomOps(rng, live.backend, live.clock, 2000);
  const before = live.backend.snapshotKeyGroups();
  live.backend.mark();
  randomOps(rng, live.backend, live.clock, 50);
  const dirty = new Set(live.backend.dirtyKeyGroups());
  t.true(dirty.size > 0 && dirty.size < MAX_P);
  const after = live.backend.snapshotKeyGroups();
  for (let g = 0; g < MAX_P; g++) {
    if (!dirty.has(g)) t.deepEqual(after.keyGroups[g], before.keyGroups[g], `key group ${g}`);
  }
});

test('snapshot - the snapshot shares no list or map with the live state', (t) => {
  const { backend } = fresh(FULL, 0);
  backend.setCurrentKey('k');
  backend.getListState<number>({ name: 'l' }).add(1);
  backend.getMapState<string, number>({ name: 'm' }).put('a', 1);
  const snapshot = backend.snapshotKeyGroups();
  backend.getListState<number>({ name: 'l' }).add(2);
  backend.getMapState<string, number>({ name: 'm' }).put('b', 2);
  const copy = fresh(FULL, 0).backend;
  copy.restoreKeyGroups(snapshot);
  copy.setCurrentKey('k');
  t.deepEqual(copy.getListState<number>({ name: 'l' }).get(), [1]);
  t.deepEqual(copy.getMapState<string, number>({ name: 'm' }).entries(), [['a', 1]]);
  // and two backends restored from one snapshot do not share either
  const other = fresh(FULL, 0).backend;
  other.restoreKeyGroups(snapshot);
  other.setCurrentKey('k');
  other.getListState<number>({ name: 'l' }).add(3);
  t.deepEqual(copy.getListState<number>({ name: 'l' }).get(), [1]);
});

test('snapshot - empty key groups are listed and restoring them clears what was there', (t) => {
  const { backend } = fresh(FULL, 0);
  const empty = backend.snapshotKeyGroups({ start: 0, end: 9 });
  t.deepEqual(empty.keyGroups.map((g) => g.keyGroup), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  let k = 0;
  while (keyGroupFor(k, MAX_P) > 9) k++;
  backend.setCurrentKey(k);
  backend.getValueState<number>({ name: 'v' }).update(1);
  backend.restoreKeyGroups(empty);
  t.is(backend.getValueState<number>({ name: 'v' }).value(), undefined);
});

test('snapshot - state registered without entries is restored as registered (kind and TTL kept)', (t) => {
  const { backend } = fresh(FULL, 0);
  backend.getMapState({ name: 'm', ttl: { ttlMs: 5 } });
  const copy = fresh(FULL, 0).backend;
  copy.restoreKeyGroups(backend.snapshotKeyGroups());
  t.deepEqual(copy.states(), [{ name: 'm', kind: 'map', ttl: true }]);
  t.throws(() => copy.getMapState({ name: 'm' }), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('restore - a snapshot whose state conflicts with a registered one changes nothing', (t) => {
  const source = fresh(FULL, 0).backend;
  source.setCurrentKey('k');
  source.getListState<number>({ name: 'x' }).add(1);
  source.getValueState<number>({ name: 'y' }).update(1);
  const target = fresh(FULL, 0).backend;
  target.setCurrentKey('k');
  target.getValueState<number>({ name: 'x' }).update(2);
  const before = target.snapshotKeyGroups();
  t.throws(() => target.restoreKeyGroups(source.snapshotKeyGroups()), { code: 'TROUPE_INVALID_ARGUMENT', message: /'x' is a value state/ } as never);
  t.deepEqual(target.snapshotKeyGroups(), before);
});

test('restore - a snapshot of another max parallelism or format is refused', (t) => {
  const snapshot = fresh(FULL, 0).backend.snapshotKeyGroups();
  const other = new HeapKeyedStateBackend(256, { start: 0, end: 255 });
  t.throws(() => other.restoreKeyGroups(snapshot), { code: 'TROUPE_INVALID_ARGUMENT', message: /max parallelism 128/ } as never);
  t.throws(() => other.restoreKeyGroups({ ...snapshot, format: 'nope' } as never), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('restore - restored key groups are dirty', (t) => {
  const { backend } = fresh(keyGroupRange(MAX_P, 2, 1), 0);
  backend.restoreKeyGroups(populated(1, 100).backend.snapshotKeyGroups());
  t.deepEqual(backend.dirtyKeyGroups(), Array.from({ length: 64 }, (_, i) => 64 + i));
});

test('snapshot - a range or key groups outside the backend are refused', (t) => {
  const { backend } = fresh({ start: 0, end: 63 }, 0);
  t.throws(() => backend.snapshotKeyGroups({ start: 0, end: 64 }), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  t.throws(() => backend.snapshotKeyGroups({ start: 0, end: 10 }, [11]), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('restore - TTL timestamps travel with the snapshot: a restored value expires when the original would', (t) => {
  const original = fresh(FULL, 1_000);
  original.backend.setCurrentKey('k');
  original.backend.getValueState<number>({ name: 'v', ttl: { ttlMs: 100 } }).update(1);
  const copy = fresh(FULL, 1_099);
  copy.backend.restoreKeyGroups(original.backend.snapshotKeyGroups());
  copy.backend.setCurrentKey('k');
  const s = copy.backend.getValueState<number>({ name: 'v', ttl: { ttlMs: 100 } });
  t.is(s.value(), 1);
  copy.clock.advance(1);
  t.is(s.value(), undefined);
});
