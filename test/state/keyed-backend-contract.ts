/**
 * The KeyedStateBackend contract (state/backend.ts, contracts 1-4), run against every backend:
 * keyed-backend-contract-<name>.test.ts calls registerKeyedBackendContract with a factory. Keys are
 * prefetched before use, as the task does. Captures are compared in a normalized form (key groups,
 * states and entries sorted), since backends may list entries in different orders.
 */
import test, { type ExecutionContext } from 'ava';
import { decodeValue, encodeValue } from '../../actors/network/record-codec.js';
import { ManualClock, type Clock } from '../../core/clock.js';
import type { ErrorCode, TroupeError } from '../../core/errors.js';
import type { AggregateFunction } from '../../api/datastream/functions.js';
import { KEYED_CHANGES_FORMAT, type KeyedStateBackend, type KeyedStateCapture, type KeyedStateChanges, type KeyGroupChanges } from '../../state/backend.js';
import { keyGroupFor, keyGroupRange, keyOfStateKey, stateKeyOf, type KeyGroupRange, type StateKey } from '../../state/key-groups.js';
import { seededRng, type Rng } from '../helpers/prng.js';

export type KeyedBackendFactory = (maxParallelism: number, range: KeyGroupRange, clock: Clock) => Promise<KeyedStateBackend>;

const MAX_P = 128;
const FULL: KeyGroupRange = { start: 0, end: MAX_P - 1 };

const AVG: AggregateFunction<number, { sum: number; n: number }, number> = {
  createAccumulator: () => ({ sum: 0, n: 0 }),
  // modifies the accumulator in place, as Flink code often does: captures must not see it
  add: (v, acc) => {
    acc.sum += v;
    acc.n += 1;
    return acc;
  },
  getResult: (acc) => acc.sum / acc.n,
};

/** Every state kind, with and without TTL. */
function states(b: KeyedStateBackend) {
  return {
    v: b.getValueState<unknown>({ name: 'v' }),
    l: b.getListState<unknown>({ name: 'l' }),
    m: b.getMapState<unknown, unknown>({ name: 'm' }),
    r: b.getReducingState<number>({ name: 'r', reduceFunction: (a, x) => a + x }),
    a: b.getAggregatingState({ name: 'a', aggregateFunction: AVG }),
    vt: b.getValueState<unknown>({ name: 'vt', ttl: { ttlMs: 100 } }),
    lt: b.getListState<unknown>({ name: 'lt', ttl: { ttlMs: 100 } }),
    mt: b.getMapState<unknown, unknown>({ name: 'mt', ttl: { ttlMs: 100 } }),
  };
}

/** Makes `key` current after prefetching it (contract 1). */
async function use(b: KeyedStateBackend, key: unknown): Promise<void> {
  const pending = b.prefetch([key]);
  if (pending !== undefined) await pending;
  b.setCurrentKey(key);
}

function keysIn(range: KeyGroupRange, count: number, from = 0): number[] {
  const out: number[] = [];
  for (let k = from; out.length < count; k++) {
    const g = keyGroupFor(k, MAX_P);
    if (g >= range.start && g <= range.end) out.push(k);
  }
  return out;
}

const order = (k: StateKey): string => `${typeof k}:${String(k)}`;
const byKey = (a: readonly [StateKey, unknown], b: readonly [StateKey, unknown]): number => (order(a[0]) < order(b[0]) ? -1 : order(a[0]) > order(b[0]) ? 1 : 0);

/** A capture in a comparable form: empty states and key groups dropped, everything sorted. */
function normalize(c: KeyedStateChanges): unknown {
  const keyGroups = c.keyGroups
    .map((g) => ({
      keyGroup: g.keyGroup,
      states: g.states
        .filter((s) => s.upserts.length + s.deletes.length > 0)
        .map((s) => ({ name: s.name, upserts: [...s.upserts].sort(byKey), deletes: [...s.deletes].sort((x, y) => (order(x) < order(y) ? -1 : 1)) }))
        .sort((x, y) => (x.name < y.name ? -1 : 1)),
    }))
    .filter((g) => g.states.length > 0)
    .sort((x, y) => x.keyGroup - y.keyGroup);
  return { ...c, states: [...c.states].sort((x, y) => (x.name < y.name ? -1 : 1)), keyGroups };
}

/** State as a plain model: `${keyGroup}|${name}|${stateKey}` -> stored value. */
type Model = Map<string, unknown>;
const slot = (g: number, name: string, k: StateKey): string => `${g}|${name}|${order(k)}`;

function applyToModel(model: Model, c: KeyedStateChanges, range: KeyGroupRange = c.range): void {
  const lo = Math.max(range.start, c.range.start);
  const hi = Math.min(range.end, c.range.end);
  if (c.full) {
    for (const key of [...model.keys()]) {
      const g = Number(key.slice(0, key.indexOf('|')));
      if (g >= lo && g <= hi) model.delete(key);
    }
  }
  for (const g of c.keyGroups) {
    if (g.keyGroup < lo || g.keyGroup > hi) continue;
    for (const s of g.states) {
      for (const [k, v] of s.upserts) model.set(slot(g.keyGroup, s.name, k), v);
      for (const k of s.deletes) model.delete(slot(g.keyGroup, s.name, k));
    }
  }
}

function modelOf(c: KeyedStateChanges): Model {
  const m: Model = new Map();
  applyToModel(m, c);
  return m;
}

const sorted = (m: Model): Array<[string, unknown]> => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));

async function materialized(capture: KeyedStateCapture): Promise<KeyedStateChanges> {
  try {
    return await capture.materialize();
  } finally {
    capture.release();
  }
}

async function fullImage(b: KeyedStateBackend): Promise<KeyedStateChanges> {
  return materialized(b.capture(true));
}

/** Random operations on keys of the backend's range, every state kind, the clock moving. */
async function randomOps(rng: Rng, b: KeyedStateBackend, clock: ManualClock, count: number, keys: readonly number[]): Promise<void> {
  const h = states(b);
  for (let i = 0; i < count; i++) {
    await use(b, rng.pick(keys));
    switch (rng.int(0, 15)) {
      case 0: h.v.update({ n: rng.int(0, 9), tags: ['x'] }); break;
      case 1: h.v.clear(); break;
      case 2: h.l.add(rng.int(0, 99)); break;
      case 3: h.l.update(rng.chance(0.3) ? [] : [rng.int(0, 9), `s${rng.int(0, 9)}`]); break;
      case 4: h.m.put(`k${rng.int(0, 5)}`, rng.int(0, 99)); break;
      case 5: h.m.remove(`k${rng.int(0, 5)}`); break;
      case 6: h.r.add(rng.int(1, 9)); break;
      case 7: h.a.add(rng.int(1, 9)); break;
      case 8: h.vt.update(rng.int(0, 9)); break;
      case 9: h.lt.add(rng.int(0, 9)); break;
      case 10: h.mt.put(rng.int(0, 3), 'x'); break;
      case 11: clock.advance(rng.int(0, 40)); break;
      case 12: if (rng.chance(0.2)) b.cleanupExpired(); break;
      case 13: h.m.clear(); break;
      case 14: {
        // in-place modification of what was read, then written back
        const v = h.v.value() as { n: number } | undefined;
        if (v !== undefined && typeof v === 'object') {
          v.n += 100;
          h.v.update(v);
        }
        break;
      }
      default: h.v.update(rng.int(0, 1000)); break;
    }
  }
}

async function rejectsCode(t: ExecutionContext, promise: Promise<unknown>, code: ErrorCode, label: string): Promise<void> {
  const error = await t.throwsAsync(promise, undefined, label);
  t.is((error as TroupeError | undefined)?.code, code, `${label}: ${error?.message}`);
}

/** Registers the contract tests for one backend; every backend a test opens is disposed after it. */
export function registerKeyedBackendContract(name: string, factory: KeyedBackendFactory): void {
  const it = (title: string, body: (t: ExecutionContext, open: (range?: KeyGroupRange, clock?: ManualClock) => Promise<KeyedStateBackend>) => Promise<void>): void => {
    test(`${name} backend contract - ${title}`, async (t) => {
      const opened: KeyedStateBackend[] = [];
      try {
        await body(t, async (range = FULL, clock = new ManualClock(1_000)) => {
          const b = await factory(MAX_P, range, clock);
          opened.push(b);
          return b;
        });
      } finally {
        for (const b of opened) await b.dispose();
      }
    });
  };

  it('1: after prefetch, handles of all five kinds read and write synchronously', async (t, open) => {
    const b = await open();
    t.deepEqual([b.maxParallelism, b.range], [MAX_P, FULL]);
    const h = states(b);
    const keys = keysIn(FULL, 300);
    for (const k of keys) {
      await use(b, k);
      h.v.update(`v${k}`);
      h.l.addAll([k, k + 1]);
      h.m.put('a', k);
      h.r.add(k);
      h.r.add(1);
      h.a.add(k);
    }
    for (const k of [...keys].reverse()) {
      await use(b, k);
      t.is(b.getCurrentKey(), k);
      t.deepEqual([h.v.value(), h.l.get(), h.m.entries(), h.r.get(), h.a.get()], [`v${k}`, [k, k + 1], [['a', k]], k + 1, k]);
    }
    await use(b, 'never-written');
    t.deepEqual([h.v.value(), h.l.get(), h.m.isEmpty(), h.r.get(), h.a.get()], [undefined, [], true, undefined, undefined]);
  });

  it('1: prefetch returns undefined or a promise, for keys with and without state', async (t, open) => {
    const b = await open();
    const r = b.prefetch([1, 'x', { id: 2 }]);
    t.true(r === undefined || typeof r.then === 'function');
    if (r !== undefined) await r;
    t.pass();
  });

  it('2 and 4: a full capture holds every entry in its stored form', async (t, open) => {
    const clock = new ManualClock(5_000);
    const b = await open(FULL, clock);
    const h = states(b);
    await use(b, 'k');
    h.v.update({ x: 1 });
    h.l.add('e');
    h.m.put(7, 'seven');
    h.r.add(3);
    h.a.add(4);
    h.vt.update('t');
    h.lt.add('lt');
    h.mt.put('u', 'mt');
    const c = await fullImage(b);
    t.is(c.format, KEYED_CHANGES_FORMAT);
    t.true(c.full);
    t.is(c.maxParallelism, MAX_P);
    t.deepEqual(c.range, FULL);
    t.deepEqual(
      [...c.states].sort((x, y) => (x.name < y.name ? -1 : 1)),
      [
        { name: 'a', kind: 'aggregating', ttl: false },
        { name: 'l', kind: 'list', ttl: false },
        { name: 'lt', kind: 'list', ttl: true },
        { name: 'm', kind: 'map', ttl: false },
        { name: 'mt', kind: 'map', ttl: true },
        { name: 'r', kind: 'reducing', ttl: false },
        { name: 'v', kind: 'value', ttl: false },
        { name: 'vt', kind: 'value', ttl: true },
      ],
    );
    const g = keyGroupFor('k', MAX_P);
    const sk = stateKeyOf('k');
    const expected: Array<[string, unknown]> = [
      [slot(g, 'a', sk), { sum: 4, n: 1 }],
      [slot(g, 'l', sk), ['e']],
      [slot(g, 'lt', sk), [{ value: 'lt', timestamp: 5_000 }]],
      [slot(g, 'm', sk), new Map([[7, 'seven']])],
      [slot(g, 'mt', sk), new Map([['u', { value: 'mt', timestamp: 5_000 }]])],
      [slot(g, 'r', sk), 3],
      [slot(g, 'v', sk), { x: 1 }],
      [slot(g, 'vt', sk), { value: 't', timestamp: 5_000 }],
    ];
    t.deepEqual(sorted(modelOf(c)), sorted(new Map(expected)));
    t.deepEqual(c.keyGroups.map((x) => x.keyGroup), [g]);
  });

  it('2: what changes after capture does not show in its result, however late materialize runs', async (t, open) => {
    const b = await open();
    const h = states(b);
    const keys = keysIn(FULL, 50);
    for (const k of keys) {
      await use(b, k);
      h.v.update({ n: k });
      h.l.add(k);
      h.m.put('a', { deep: [k] });
      h.a.add(k);
    }
    // a deep copy: the image shares user values with the live state
    const expected = decodeValue(encodeValue(sorted(modelOf(await fullImage(b)))));
    const capture = b.capture(true);
    for (const k of keys) {
      await use(b, k);
      (h.v.value() as { n: number }).n = -1; // in place, never written back
      const mv = h.m.get('a') as { deep: number[] };
      mv.deep.push(-1);
      h.m.put('b', 0);
      h.l.add(-1);
      h.a.add(1000); // AVG modifies its accumulator in place
      if (k % 2 === 0) h.v.clear();
      else h.v.update({ n: -2 });
    }
    await use(b, 'new');
    h.v.update('new');
    t.deepEqual(sorted(modelOf(await materialized(capture))), expected);
  });

  it('2: an incremental capture holds the changes since the previous capture, then nothing', async (t, open) => {
    const b = await open();
    const h = states(b);
    const keys = keysIn(FULL, 20);
    for (const k of keys) {
      await use(b, k);
      h.v.update(k);
      h.l.add(k);
    }
    await fullImage(b);
    await use(b, keys[0]);
    h.v.update(100);
    await use(b, keys[1]);
    h.v.clear();
    h.l.clear();
    await use(b, keys[2]);
    h.l.add('more');
    await use(b, keys[3]);
    t.is(h.v.value(), keys[3]); // a read is not a change
    await use(b, 'fresh');
    h.m.put('x', 1);
    const delta = await materialized(b.capture(false));
    t.false(delta.full);
    const entries = delta.keyGroups.flatMap((g) => g.states.flatMap((s) => [...s.upserts.map(([k, v]) => ['+', s.name, k, v]), ...s.deletes.map((k) => ['-', s.name, k])]));
    const key = (x: unknown[]): string => JSON.stringify(x);
    t.deepEqual(
      entries.map(key).sort(),
      [
        ['+', 'v', keys[0], 100],
        ['-', 'v', keys[1]],
        ['-', 'l', keys[1]],
        ['+', 'l', keys[2], [keys[2], 'more']],
        ['+', 'm', 'fresh', new Map([['x', 1]])],
      ]
        .map(key)
        .sort(),
    );
    for (const g of delta.keyGroups) {
      for (const s of g.states) for (const k of [...s.upserts.map(([x]) => x), ...s.deletes]) t.is(keyGroupFor(keyOfStateKey(k), MAX_P), g.keyGroup);
    }
    const empty = await materialized(b.capture(false));
    t.false(empty.full);
    t.deepEqual(empty.keyGroups, []);
  });

  it('2: a full image, then deltas, replayed equal the live state (random operations, 4 seeds)', async (t, open) => {
    for (const seed of [1, 2, 3, 42]) {
      const rng = seededRng(seed);
      const clock = new ManualClock(1_000);
      const b = await open(FULL, clock);
      const keys = keysIn(FULL, 60);
      const model: Model = new Map();
      for (let round = 0; round < 6; round++) {
        await randomOps(rng, b, clock, rng.int(0, 400), keys);
        const c = await materialized(b.capture(round === 0 || rng.chance(0.2)));
        applyToModel(model, c);
      }
      await randomOps(rng, b, clock, 200, keys);
      applyToModel(model, await materialized(b.capture(false)));
      t.deepEqual(sorted(model), sorted(modelOf(await fullImage(b))), `seed ${seed}`);
    }
  });

  it('3: a full image replaces the key groups it covers in the range and skips the others', async (t, open) => {
    const lower = keyGroupRange(MAX_P, 2, 0);
    const source = await open();
    const hs = states(source);
    const keys = keysIn(FULL, 40);
    for (const k of keys) {
      await use(source, k);
      hs.v.update(`src${k}`);
    }
    const image = await fullImage(source);
    const target = await open(lower);
    const ht = states(target);
    const old = keysIn(lower, 10, 10_000);
    for (const k of old) {
      await use(target, k);
      ht.v.update('old');
      ht.l.add('old');
    }
    await target.restore(image);
    for (const k of old) {
      await use(target, k);
      t.deepEqual([ht.v.value(), ht.l.get()], [undefined, []]);
    }
    const mine = keys.filter((k) => keyGroupFor(k, MAX_P) <= lower.end);
    for (const k of mine) {
      await use(target, k);
      t.is(ht.v.value(), `src${k}`);
    }
    const expected: Model = new Map();
    applyToModel(expected, image, lower);
    t.deepEqual(sorted(modelOf(await fullImage(target))), sorted(expected));
  });

  it('3: a delta upserts and deletes; key groups outside the range are skipped', async (t, open) => {
    const lower = keyGroupRange(MAX_P, 2, 0);
    const b = await open(lower);
    const h = states(b);
    const [a, c] = keysIn(lower, 2) as [number, number];
    const outside = keysIn(keyGroupRange(MAX_P, 2, 1), 1)[0]!;
    await use(b, a);
    h.v.update('a');
    await use(b, c);
    h.v.update('c');
    const group = (k: number, upserts: Array<[StateKey, unknown]>, deletes: StateKey[]): KeyGroupChanges => ({ keyGroup: keyGroupFor(k, MAX_P), states: [{ name: 'v', upserts, deletes }] });
    const groups = [group(a, [], [a]), group(c, [[c, 'c2']], []), group(outside, [[outside, 'x']], [])].sort((x, y) => x.keyGroup - y.keyGroup);
    // two keys may share a key group: merge them
    const merged: KeyGroupChanges[] = [];
    for (const g of groups) {
      const last = merged.at(-1);
      if (last?.keyGroup === g.keyGroup) merged[merged.length - 1] = { keyGroup: g.keyGroup, states: [...last.states, ...g.states] };
      else merged.push(g);
    }
    await b.restore({ format: KEYED_CHANGES_FORMAT, maxParallelism: MAX_P, range: FULL, full: false, states: [{ name: 'v', kind: 'value', ttl: false }], keyGroups: merged });
    await use(b, a);
    t.is(h.v.value(), undefined);
    await use(b, c);
    t.is(h.v.value(), 'c2');
    t.deepEqual(sorted(modelOf(await fullImage(b))), [[slot(keyGroupFor(c, MAX_P), 'v', c), 'c2']]);
  });

  it('3: restored content counts as changed for the next incremental capture', async (t, open) => {
    const source = await open();
    const hs = states(source);
    const keys = keysIn(FULL, 10);
    for (const k of keys) {
      await use(source, k);
      hs.v.update(k);
    }
    const image = await fullImage(source);
    const b = await open();
    const h = states(b);
    const gone = keysIn(FULL, 1, 50_000)[0]!;
    await use(b, gone);
    h.v.update('replaced away');
    await fullImage(b); // the baseline
    await b.restore(image);
    const delta = await materialized(b.capture(false));
    const model: Model = new Map([[slot(keyGroupFor(gone, MAX_P), 'v', gone), 'replaced away']]);
    applyToModel(model, delta);
    t.deepEqual(sorted(model), sorted(modelOf(image)), 'baseline + delta = restored image (the replaced key is deleted)');
    if (!delta.full) t.true(delta.keyGroups.some((g) => g.states.some((s) => s.deletes.includes(gone))));
  });

  it('3: rescale - a full image split over 3 backends and merged back into 1 reproduces every key', async (t, open) => {
    const rng = seededRng(7);
    const clock = new ManualClock(1_000);
    const source = await open(FULL, clock);
    const keys = keysIn(FULL, 80);
    await randomOps(rng, source, clock, 1500, keys);
    const image = await fullImage(source);
    const parts = await Promise.all([0, 1, 2].map((i) => open(keyGroupRange(MAX_P, 3, i), new ManualClock(clock.now()))));
    const images: KeyedStateChanges[] = [];
    for (const p of parts) {
      await p.restore(image);
      const own = await fullImage(p);
      const expected: Model = new Map();
      applyToModel(expected, image, p.range);
      t.deepEqual(sorted(modelOf(own)), sorted(expected), `range ${p.range.start}-${p.range.end}`);
      images.push(own);
    }
    const merged = await open(FULL, new ManualClock(clock.now()));
    for (const i of images) await merged.restore(i);
    t.deepEqual(normalize(await fullImage(merged)), normalize(image));
    const hm = states(merged);
    const hs = states(source);
    for (const k of keys) {
      await use(merged, k);
      await use(source, k);
      t.deepEqual([hm.v.value(), hm.l.get(), hm.m.entries(), hm.r.get(), hm.a.get()], [hs.v.value(), hs.l.get(), hs.m.entries(), hs.r.get(), hs.a.get()]);
    }
  });

  it('3: invalid changes are refused with TROUPE_INVALID_ARGUMENT and change nothing', async (t, open) => {
    const b = await open();
    const h = states(b);
    for (const k of keysIn(FULL, 10)) {
      await use(b, k);
      h.v.update(k);
      h.l.add(k);
    }
    const before = normalize(await fullImage(b));
    const good = await fullImage(b);
    const k0 = good.keyGroups[0]!;
    const bad: Array<[string, unknown]> = [
      ['format', { ...good, format: 'nope' }],
      ['max parallelism', { ...good, maxParallelism: 256 }],
      ['range', { ...good, range: { start: 5, end: 200 } }],
      ['kind', { ...good, states: good.states.map((s) => (s.name === 'v' ? { ...s, kind: 'list' } : s)) }],
      ['ttl', { ...good, states: good.states.map((s) => (s.name === 'l' ? { ...s, ttl: true } : s)) }],
      ['undeclared', { ...good, states: good.states.filter((s) => s.name !== 'v') }],
      ['order', { ...good, keyGroups: [...good.keyGroups].reverse() }],
      ['deletes in a full image', { ...good, keyGroups: [{ ...k0, states: [{ name: 'v', upserts: [], deletes: [1] }] }] }],
      ['empty list', { ...good, full: false, keyGroups: [{ keyGroup: k0.keyGroup, states: [{ name: 'l', upserts: [[1, []]], deletes: [] }] }] }],
      ['list not an array', { ...good, full: false, keyGroups: [{ keyGroup: k0.keyGroup, states: [{ name: 'l', upserts: [[1, 'x']], deletes: [] }] }] }],
      ['bad state key', { ...good, full: false, keyGroups: [{ keyGroup: k0.keyGroup, states: [{ name: 'v', upserts: [[{ o: 1 }, 1]], deletes: [] }] }] }],
      // valid first key groups, a bad last one: nothing may be applied
      ['a bad last key group', { ...good, full: false, keyGroups: [...good.keyGroups.slice(0, -1).map((g) => ({ ...g, states: g.states.map((s) => ({ ...s, upserts: s.upserts.map(([k]) => [k, s.name === 'l' ? ['changed'] : 'changed'] as const) })) })), { keyGroup: good.keyGroups.at(-1)!.keyGroup, states: [{ name: 'l', upserts: [[1, 5]], deletes: [] }] }] }],
    ];
    for (const [what, changes] of bad) await rejectsCode(t, b.restore(changes as KeyedStateChanges), 'TROUPE_INVALID_ARGUMENT', what);
    t.deepEqual(normalize(await fullImage(b)), before);
    await t.notThrowsAsync(b.restore(good));
  });

  it('3: restored states are registered with their kind and TTL', async (t, open) => {
    const source = await open();
    source.getMapState({ name: 'm', ttl: { ttlMs: 5 } });
    source.getValueState({ name: 'plain' });
    const b = await open();
    await b.restore(await fullImage(source));
    t.throws(() => b.getMapState({ name: 'm' }), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
    t.throws(() => b.getListState({ name: 'plain' }), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
    t.notThrows(() => b.getMapState({ name: 'm', ttl: { ttlMs: 5 } }));
    t.true(b.hasTtlState());
  });

  it('4: TTL timestamps travel with the capture; expired state cleaned up is deleted in the next delta', async (t, open) => {
    const clock = new ManualClock(1_000);
    const b = await open(FULL, clock);
    const h = states(b);
    const [k1, k2] = keysIn(FULL, 2) as [number, number];
    await use(b, k1);
    h.vt.update('old');
    h.lt.add('old');
    clock.advance(60);
    await use(b, k2);
    h.vt.update('young');
    const image = await fullImage(b);
    const copyClock = new ManualClock(1_099);
    const copy = await open(FULL, copyClock);
    await copy.restore(image);
    const hc = states(copy);
    await use(copy, k1);
    t.is(hc.vt.value(), 'old');
    copyClock.advance(1);
    t.is(hc.vt.value(), undefined);
    clock.advance(50); // k1's state is expired, k2's is not
    t.true(b.hasTtlState());
    t.is(b.cleanupExpired(), 2);
    const delta = await materialized(b.capture(false));
    const model = modelOf(image);
    applyToModel(model, delta);
    t.deepEqual(sorted(model), [[slot(keyGroupFor(k2, MAX_P), 'vt', stateKeyOf(k2)), { value: 'young', timestamp: 1_060 }]]);
  });

  it('4: a capture shares no list or map with the live state, in either direction', async (t, open) => {
    const b = await open();
    const h = states(b);
    await use(b, 'k');
    h.l.add(1);
    h.m.put('a', 1);
    h.lt.add(1);
    h.mt.put('a', 1);
    const c = await fullImage(b);
    h.l.add(2);
    h.m.put('b', 2);
    h.lt.add(2);
    h.mt.put('b', 2);
    const model = modelOf(c);
    const g = keyGroupFor('k', MAX_P);
    t.deepEqual(model.get(slot(g, 'l', 'k')), [1]);
    t.deepEqual([...(model.get(slot(g, 'm', 'k')) as Map<StateKey, unknown>).keys()], ['a']);
    (model.get(slot(g, 'l', 'k')) as unknown[]).push(99);
    (model.get(slot(g, 'm', 'k')) as Map<StateKey, unknown>).set('z', 99);
    await use(b, 'k');
    t.deepEqual(h.l.get(), [1, 2]);
    t.deepEqual(h.m.keys(), ['a', 'b']);
    // and a restore does not adopt the containers of the changes it applies
    const other = await open();
    const image = await fullImage(b);
    await other.restore(image);
    await use(other, 'k');
    states(other).l.add(3);
    t.deepEqual(modelOf(image).get(slot(g, 'l', 'k')), [1, 2]);
  });

  it('2: release is idempotent, and an abandoned capture leaves the next one complete', async (t, open) => {
    const b = await open();
    const h = states(b);
    await use(b, 1);
    h.v.update(1);
    const base = await fullImage(b);
    await use(b, 2);
    h.v.update(2);
    const abandoned = b.capture(false);
    abandoned.release();
    abandoned.release();
    await use(b, 3);
    h.v.update(3);
    // the abandoned capture's changes are lost to deltas: the caller takes a full one next
    const next = await materialized(b.capture(true));
    const model = modelOf(base);
    applyToModel(model, next);
    t.deepEqual([...model.values()].sort(), [1, 2, 3]);
  });

  it('dispose - resolves, twice', async (t, open) => {
    const b = await open();
    await t.notThrowsAsync(b.dispose());
    await t.notThrowsAsync(b.dispose());
  });
}
