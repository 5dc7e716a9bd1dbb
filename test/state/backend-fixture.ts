/** Shared fixture for the keyed state tests: a backend over the whole key-group space with a manual clock. */
import { ManualClock } from '../../core/clock.js';
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
