/**
 * Heap keyed state backend: state lives in Maps, one per state name, keyed by the state key.
 * The current key is set per record by the keyed operator; each state access is scoped to it.
 *
 * Invariants:
 *  1. A task only sets keys that belong to its key-group range (checked: a misrouted record is a
 *     protocol violation, not a silent state corruption).
 *  2. State of different names never aliases.
 */
import { TroupeError } from '../../core/errors.js';
import { keyGroupFor, stateKeyOf, type KeyGroupRange, type StateKey } from '../key-groups.js';
import type { ValueState, ValueStateDescriptor } from '../value-state.js';

export class HeapKeyedStateBackend {
  private currentKey: unknown = undefined;
  private currentStateKey: StateKey = '';
  private readonly tables = new Map<string, Map<StateKey, unknown>>();
  /** One state object per name: user code often calls getState for every record. */
  private readonly states = new Map<string, { readonly defaultValue: unknown; readonly state: ValueState<unknown> }>();

  constructor(
    private readonly maxParallelism: number,
    private readonly range: KeyGroupRange,
  ) {}

  setCurrentKey(key: unknown): void {
    const group = keyGroupFor(key, this.maxParallelism);
    if (group < this.range.start || group > this.range.end) {
      throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `key group ${group} is outside this subtask's range ${this.range.start}-${this.range.end}`);
    }
    this.currentKey = key;
    this.currentStateKey = stateKeyOf(key);
  }

  getCurrentKey(): unknown {
    return this.currentKey;
  }

  getValueState<V>(descriptor: ValueStateDescriptor<V>): ValueState<V> {
    const cached = this.states.get(descriptor.name);
    if (cached !== undefined && Object.is(cached.defaultValue, descriptor.defaultValue)) return cached.state as ValueState<V>;
    const state = this.createValueState(descriptor);
    this.states.set(descriptor.name, { defaultValue: descriptor.defaultValue, state: state });
    return state;
  }

  private createValueState<V>(descriptor: ValueStateDescriptor<V>): ValueState<V> {
    let table = this.tables.get(descriptor.name);
    if (table === undefined) {
      table = new Map();
      this.tables.set(descriptor.name, table);
    }
    const t = table;
    const fallback = descriptor.defaultValue;
    return {
      value: (): V | undefined => {
        const v = t.get(this.currentStateKey) as V | undefined;
        return v === undefined ? fallback : v;
      },
      update: (value: V): void => {
        if (value === undefined) t.delete(this.currentStateKey);
        else t.set(this.currentStateKey, value);
      },
      clear: (): void => {
        t.delete(this.currentStateKey);
      },
    };
  }

  /** Number of keys with a value, per state name (metrics, tests). */
  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, t] of this.tables) out[name] = t.size;
    return out;
  }
}
