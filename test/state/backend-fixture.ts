/** Shared fixture for the keyed state tests: a backend over the whole key-group space with a manual clock. */
import type { AggregateFunction } from '../../api/datastream/functions.js';
import { ManualClock } from '../../core/clock.js';
import type { KeyedStateBackend } from '../../state/backend.js';
import { HeapKeyedStateBackend } from '../../state/heap/heap-keyed-state-backend.js';
import type { KeyGroupRange } from '../../state/key-groups.js';

export const MAX_P = 128;
export const FULL: KeyGroupRange = { start: 0, end: MAX_P - 1 };

export function backendWith(range: KeyGroupRange = FULL, clock = new ManualClock(1_000)): { backend: HeapKeyedStateBackend; clock: ManualClock } {
  return { backend: new HeapKeyedStateBackend(MAX_P, range, { clock }), clock };
}

/** Every state's entries as [name, keyGroup, stateKey, stored] rows, sorted: equal rows = equal state. */
export function contentOf(backend: HeapKeyedStateBackend): unknown[] {
  const rows: unknown[] = [];
  for (const { name } of backend.states()) {
    for (const e of backend.entries(name)) rows.push([name, e.keyGroup, e.stateKey, e.value]);
  }
  return rows.sort((a, b) => (JSON.stringify(a, replacer) < JSON.stringify(b, replacer) ? -1 : 1));
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return { map: [...(value as Map<unknown, unknown>)] };
  if (typeof value === 'bigint') return `${value}n`;
  return value;
}

const SUM_AGG: AggregateFunction<number, { sum: number; n: number }, string> = {
  createAccumulator: () => ({ sum: 0, n: 0 }),
  add: (v, acc) => ({ sum: acc.sum + v, n: acc.n + 1 }),
  getResult: (acc) => `${acc.sum}/${acc.n}`,
};
const TTL = { ttlMs: 500, updateType: 'on-read-and-write', visibility: 'return-expired-if-not-cleaned-up' } as const;
const TTL2 = { ttlMs: 300 } as const;

/** One handle of every state kind, with and without TTL, by short name: the randomized tests' states. */
export function allStateHandles(b: KeyedStateBackend) {
  return {
    v: b.getValueState<unknown>({ name: 'v' }),
    l: b.getListState<unknown>({ name: 'l' }),
    m: b.getMapState<unknown, unknown>({ name: 'm' }),
    r: b.getReducingState<number>({ name: 'r', reduceFunction: (a, x) => a * 31 + x }),
    a: b.getAggregatingState({ name: 'a', aggregateFunction: SUM_AGG }),
    vt: b.getValueState<unknown>({ name: 'vt', ttl: TTL2 }),
    lt: b.getListState<unknown>({ name: 'lt', ttl: TTL }),
    mt: b.getMapState<unknown, unknown>({ name: 'mt', ttl: TTL2 }),
    rt: b.getReducingState<number>({ name: 'rt', reduceFunction: (a, x) => a + x, ttl: TTL }),
    at: b.getAggregatingState({ name: 'at', aggregateFunction: SUM_AGG, ttl: TTL2 }),
  };
}
