/**
 * Captures of the heap backend (state/heap/heap-keyed-state-backend.ts invariant 6, state-table.ts
 * invariants 4-6): a full capture freezes key-group Maps and copies them on the first write; reads
 * copy what a pending capture shares; several captures may be pending and materialize in any order.
 * Random operations come from a seeded PRNG; a failure prints its seed.
 */
import test from 'ava';
import { decodeValue, encodeValue } from '../../actors/network/record-codec.js';
import { ManualClock } from '../../core/clock.js';
import { KEYED_CHANGES_FORMAT, type KeyedStateCapture, type KeyedStateChanges } from '../../state/backend.js';
import { HeapKeyedStateBackend } from '../../state/heap/heap-keyed-state-backend.js';
import { keyGroupFor, stateKeyOf, type StateKey } from '../../state/key-groups.js';
import { seededRng, type Rng } from '../helpers/prng.js';
import { contentOf, FULL, MAX_P } from './backend-fixture.js';

type Rows = Map<string, unknown>;
const slot = (name: string, g: number, k: StateKey): string => `${name}|${g}|${typeof k}:${String(k)}`;

/** The backend's entries, deep-copied (contentOf shares stored values). */
function rowsOf(b: HeapKeyedStateBackend): Rows {
  const rows = decodeValue(encodeValue(contentOf(b))) as Array<[string, number, StateKey, unknown]>;
  return new Map(rows.map(([name, g, k, v]) => [slot(name, g, k), v]));
}

function apply(base: Rows, c: KeyedStateChanges): Rows {
  const out = new Map(c.full ? [] : base);
  for (const g of c.keyGroups) {
    for (const s of g.states) {
      for (const [k, v] of s.upserts) out.set(slot(s.name, g.keyGroup, k), v);
      for (const k of s.deletes) out.delete(slot(s.name, g.keyGroup, k));
    }
  }
  return out;
}

const sorted = (r: Rows): Array<[string, unknown]> => [...r].sort((a, b) => (a[0] < b[0] ? -1 : 1));

const KEYS = [...Array.from({ length: 40 }, (_, i) => i), 'a', 'b', { id: 1 }];

function handles(b: HeapKeyedStateBackend) {
  return {
    v: b.getValueState<{ n: number } | number>({ name: 'v' }),
    l: b.getListState<unknown>({ name: 'l' }),
    m: b.getMapState<unknown, { deep: number[] }>({ name: 'm' }),
    a: b.getAggregatingState<number, { sum: number }, number>({
      name: 'a',
      aggregateFunction: { createAccumulator: () => ({ sum: 0 }), add: (x, acc) => ((acc.sum += x), acc), getResult: (acc) => acc.sum },
    }),
    mt: b.getMapState<number, string>({ name: 'mt', ttl: { ttlMs: 50 } }),
    lt: b.getListState<number>({ name: 'lt', ttl: { ttlMs: 50, updateType: 'on-read-and-write' } }),
  };
}

async function randomOp(rng: Rng, b: HeapKeyedStateBackend, clock: ManualClock): Promise<void> {
  const h = handles(b);
  const key = rng.pick(KEYS);
  b.setCurrentKey(key);
  switch (rng.int(0, 14)) {
    case 0: h.v.update({ n: rng.int(0, 9) }); break;
    case 1: {
      // in place, then written back (a change counts only once written: deltas see writes)
      const v = h.v.value();
      if (typeof v === 'object') {
        v.n += 1000;
        h.v.update(v);
      }
      break;
    }
    case 2: h.v.clear(); break;
    case 3: h.l.add(rng.int(0, 9)); break;
    case 4: h.l.update(rng.chance(0.3) ? [] : [rng.int(0, 9)]); break;
    case 5: h.m.put(rng.int(0, 3), { deep: [rng.int(0, 9)] }); break;
    case 6: {
      const k = rng.int(0, 3);
      const e = h.m.get(k);
      if (e !== undefined) {
        e.deep.push(-1); // in place, then written back
        h.m.put(k, e);
      }
      break;
    }
    case 7: h.m.remove(rng.int(0, 3)); break;
    case 8: h.a.add(rng.int(1, 9)); break; // the accumulator changes in place
    case 9: h.mt.put(rng.int(0, 3), 'x'); break;
    case 10: h.lt.add(rng.int(0, 9)); break;
    case 11: h.lt.get(); break; // refreshes timestamps: a write
    case 12: clock.advance(rng.int(0, 30)); break;
    case 13: if (rng.chance(0.3)) b.cleanupExpired(); break;
    default: {
      // a restore while captures are pending
      const g = keyGroupFor(key, MAX_P);
      await b.restore({ format: KEYED_CHANGES_FORMAT, maxParallelism: MAX_P, range: FULL, full: false, states: [{ name: 'v', kind: 'value', ttl: false }], keyGroups: [{ keyGroup: g, states: [{ name: 'v', upserts: [[stateKeyOf(key), { n: -5 }]], deletes: [] }] }] });
      break;
    }
  }
}

interface Pending {
  readonly capture: KeyedStateCapture;
  readonly before: Rows;
  readonly at: Rows;
  readonly step: number;
}

test('captures - every capture holds the state of its call, with many pending, materialized late in any order (8 seeds)', async (t) => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const rng = seededRng(seed);
    const clock = new ManualClock(1_000);
    const b = new HeapKeyedStateBackend(MAX_P, FULL, { clock });
    let last: Rows = new Map();
    const pending: Pending[] = [];
    const settle = async (p: Pending): Promise<void> => {
      if (rng.chance(0.2)) {
        p.capture.release();
        return;
      }
      const c = await p.capture.materialize();
      p.capture.release();
      t.deepEqual(sorted(apply(p.before, c)), sorted(p.at), `seed ${seed}: ${c.full ? 'full' : 'delta'} capture of step ${p.step}`);
    };
    for (let step = 0; step < 60; step++) {
      for (let i = rng.int(0, 40); i > 0; i--) await randomOp(rng, b, clock);
      if (rng.chance(0.5)) {
        const at = rowsOf(b);
        pending.push({ capture: b.capture(rng.chance(0.3)), before: last, at, step });
        last = at;
      }
      if (pending.length > 0 && rng.chance(0.4)) await settle(pending.splice(rng.int(0, pending.length - 1), 1)[0]!);
    }
    for (const p of pending.splice(0)) await settle(p);
    // nothing stays frozen or shielded once every capture is released
    await randomOp(rng, b, clock);
    const tables = (b as unknown as { tables: Map<string, { frozen: Uint16Array; unshared: unknown }> }).tables;
    for (const [name, table] of tables) {
      t.true(table.frozen.every((n) => n === 0), `seed ${seed}: ${name} frozen`);
      t.is(table.unshared, null, `seed ${seed}: ${name} unshared`);
    }
  }
});

test('captures - a full capture is taken without touching entries: writes after it copy only the key groups they change', (t) => {
  const b = new HeapKeyedStateBackend(MAX_P, FULL);
  const v = b.getValueState<number>({ name: 'v' });
  for (let k = 0; k < 10_000; k++) {
    b.setCurrentKey(k);
    v.update(k);
  }
  const groupsBefore = [...(b as unknown as { tables: Map<string, { groups: unknown[] }> }).tables.get('v')!.groups];
  const capture = b.capture(true);
  b.setCurrentKey(0);
  v.update(-1);
  const groupsAfter = (b as unknown as { tables: Map<string, { groups: unknown[] }> }).tables.get('v')!.groups;
  const copied = groupsAfter.filter((g, i) => g !== groupsBefore[i]).length;
  t.is(copied, 1);
  capture.release();
  for (let k = 1; k < 1000; k++) {
    b.setCurrentKey(k);
    v.update(-1);
  }
  t.is(groupsAfter.filter((g, i) => g !== groupsBefore[i]).length, 1, 'once released, nothing is copied');
});

test('captures - materialize after release is refused; release is idempotent', async (t) => {
  const b = new HeapKeyedStateBackend(MAX_P, FULL);
  const c = b.capture(true);
  c.release();
  c.release();
  await t.throwsAsync(c.materialize(), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});
