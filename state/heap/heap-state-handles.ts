/** The five keyed state handles over a StateTable (the stored forms are listed in heap-keyed-state-backend.ts). */
import type { AggregateFunction, ReduceFunction } from '../../api/datastream/functions.js';
import { TroupeError } from '../../core/errors.js';
import type { AggregatingState } from '../aggregating-state.js';
import { checkedStateKeyOf, keyOfStateKey, type StateKey } from '../key-groups.js';
import type { ListState } from '../list-state.js';
import type { MapState } from '../map-state.js';
import type { ReducingState } from '../reducing-state.js';
import { isExpired, type TtlValue } from '../ttl.js';
import type { ValueState } from '../value-state.js';
import { noCurrentKey, type StateTable } from './state-table.js';

export class HeapValueState<V> implements ValueState<V> {
  constructor(
    private readonly table: StateTable,
    private readonly defaultValue: V | undefined,
  ) {}
  // The no-TTL paths are StateTable.get/set inlined by hand: this is the state of every keyed count.
  value(): V | undefined {
    const table = this.table;
    if (table.hasTtl) {
      const v = table.readSingle() as V | undefined;
      return v === undefined ? this.defaultValue : v;
    }
    const cursor = table.cursor;
    const group = table.groups[cursor.index];
    if (group === undefined) {
      if (cursor.index < 0) throw noCurrentKey(table.name);
      return this.defaultValue;
    }
    const v = group.get(cursor.stateKey) as V | undefined;
    if (v === undefined) return this.defaultValue;
    return table.scope.shield !== 0 && typeof v === 'object' && v !== null ? (table.unshare(v) as V) : v;
  }
  update(value: V): void {
    const table = this.table;
    if (value === undefined || table.hasTtl) return table.writeSingle(value);
    const cursor = table.cursor;
    const index = cursor.index;
    let group = table.groups[index];
    if (group === undefined) {
      if (index < 0) throw noCurrentKey(table.name);
      group = table.groups[index] = new Map();
    } else if (table.frozen[index] !== 0) {
      group = table.thaw(index);
    }
    group.set(cursor.stateKey, value);
    table.dirty[index] = 1;
    if (table.changed !== null) table.touch(index, cursor.stateKey);
  }
  clear(): void {
    this.table.remove();
  }
}

export class HeapReducingState<T> implements ReducingState<T> {
  constructor(
    private readonly table: StateTable,
    private readonly reduce: ReduceFunction<T>,
  ) {}
  get(): T | undefined {
    return this.table.readSingle() as T | undefined;
  }
  add(value: T): void {
    if (value === undefined) throw refusedUndefined(this.table.name);
    const current = this.table.readForWrite() as T | undefined;
    this.table.writeSingle(current === undefined ? value : this.reduce(current, value));
  }
  clear(): void {
    this.table.remove();
  }
}

export class HeapAggregatingState<IN, ACC, OUT> implements AggregatingState<IN, OUT> {
  constructor(
    private readonly table: StateTable,
    private readonly fn: AggregateFunction<IN, ACC, OUT>,
  ) {}
  get(): OUT | undefined {
    const acc = this.table.readSingle() as ACC | undefined;
    return acc === undefined ? undefined : this.fn.getResult(acc);
  }
  add(value: IN): void {
    const current = this.table.readForWrite() as ACC | undefined;
    this.table.writeSingle(this.fn.add(value, current === undefined ? this.fn.createAccumulator() : current));
  }
  clear(): void {
    this.table.remove();
  }
}

export class HeapListState<T> implements ListState<T> {
  constructor(private readonly table: StateTable) {}

  get(): T[] {
    const stored = this.table.get() as unknown[] | undefined;
    if (stored === undefined) return [];
    const ttl = this.table.ttl;
    if (ttl === undefined) return stored.slice() as T[];
    const now = this.table.now();
    const visible: T[] = [];
    const kept: Array<TtlValue<T>> = [];
    for (const e of stored as Array<TtlValue<T>>) {
      if (isExpired(e, ttl, now)) {
        if (ttl.returnExpired) visible.push(e.value);
      } else {
        visible.push(e.value);
        kept.push(ttl.updateOnRead ? { value: e.value, timestamp: now } : e);
      }
    }
    if (kept.length === 0) this.table.remove();
    else if (kept.length !== stored.length || ttl.updateOnRead) this.table.set(kept);
    return visible;
  }

  add(value: T): void {
    if (value === undefined) throw refusedUndefined(this.table.name);
    this.append([value]);
  }

  addAll(values: Iterable<T>): void {
    this.append(checkedList(values, this.table.name));
  }

  update(values: Iterable<T>): void {
    const list = checkedList(values, this.table.name);
    if (list.length === 0) return this.table.remove();
    const now = this.table.hasTtl ? this.table.now() : 0;
    this.table.set(list.map((v) => this.table.wrap(v, now)));
  }

  clear(): void {
    this.table.remove();
  }

  private append(values: readonly T[]): void {
    if (values.length === 0) return;
    const now = this.table.hasTtl ? this.table.now() : 0;
    const stored = this.table.get() as unknown[] | undefined;
    const list = stored ?? [];
    for (const v of values) list.push(this.table.wrap(v, now));
    this.table.set(list);
  }
}

export class HeapMapState<K, V> implements MapState<K, V> {
  private readonly role: string;
  constructor(private readonly table: StateTable) {
    this.role = `MapState '${table.name}' got the user key`;
  }

  get(key: K): V | undefined {
    return this.read(checkedStateKeyOf(key, this.role)) as V | undefined;
  }

  put(key: K, value: V): void {
    const userKey = checkedStateKeyOf(key, this.role);
    const map = (this.table.get() as Map<StateKey, unknown> | undefined) ?? new Map<StateKey, unknown>();
    map.set(userKey, this.table.wrap(value, this.table.hasTtl ? this.table.now() : 0));
    this.table.set(map);
  }

  putAll(entries: Iterable<readonly [K, V]>): void {
    const list = [...entries];
    const keys = list.map(([k]) => checkedStateKeyOf(k, this.role));
    if (list.length === 0) return;
    const now = this.table.hasTtl ? this.table.now() : 0;
    const map = (this.table.get() as Map<StateKey, unknown> | undefined) ?? new Map<StateKey, unknown>();
    list.forEach(([, v], i) => map.set(keys[i]!, this.table.wrap(v, now)));
    this.table.set(map);
  }

  remove(key: K): void {
    const userKey = checkedStateKeyOf(key, this.role);
    const map = this.table.get() as Map<StateKey, unknown> | undefined;
    if (map === undefined || !map.delete(userKey)) return;
    this.storeOrRemove(map);
  }

  contains(key: K): boolean {
    const userKey = checkedStateKeyOf(key, this.role);
    if (this.table.ttl === undefined) return (this.table.get() as Map<StateKey, unknown> | undefined)?.has(userKey) === true;
    return this.read(userKey, true) !== NOT_FOUND;
  }

  entries(): Array<[K, V]> {
    return this.visible().map(([k, v]) => [keyOfStateKey(k) as K, v]);
  }

  keys(): K[] {
    return this.visible().map(([k]) => keyOfStateKey(k) as K);
  }

  values(): V[] {
    return this.visible().map(([, v]) => v);
  }

  isEmpty(): boolean {
    return this.visible(false).length === 0;
  }

  clear(): void {
    this.table.remove();
  }

  /** One entry under TTL rules; NOT_FOUND (for contains) or undefined when absent or hidden. */
  private read(userKey: StateKey, forContains = false): unknown {
    const map = this.table.get() as Map<StateKey, unknown> | undefined;
    const missing = forContains ? NOT_FOUND : undefined;
    if (map === undefined || !map.has(userKey)) return missing;
    const stored = map.get(userKey);
    const ttl = this.table.ttl;
    if (ttl === undefined) return stored;
    const tv = stored as TtlValue<unknown>;
    const now = this.table.now();
    if (isExpired(tv, ttl, now)) {
      map.delete(userKey);
      this.storeOrRemove(map);
      return ttl.returnExpired ? tv.value : missing;
    }
    if (ttl.updateOnRead) {
      map.set(userKey, { value: tv.value, timestamp: now });
      this.table.set(map);
    }
    return tv.value;
  }

  /** The visible entries in insertion order, cleaning up expired ones; refresh is for reads that return values. */
  private visible(refresh = true): Array<[StateKey, V]> {
    const map = this.table.get() as Map<StateKey, unknown> | undefined;
    if (map === undefined) return [];
    const ttl = this.table.ttl;
    if (ttl === undefined) return [...(map as Map<StateKey, V>)];
    const now = this.table.now();
    const out: Array<[StateKey, V]> = [];
    let changed = false;
    for (const [k, stored] of map as Map<StateKey, TtlValue<V>>) {
      if (isExpired(stored, ttl, now)) {
        map.delete(k);
        changed = true;
        if (ttl.returnExpired) out.push([k, stored.value]);
      } else {
        out.push([k, stored.value]);
        if (refresh && ttl.updateOnRead) {
          map.set(k, { value: stored.value, timestamp: now });
          changed = true;
        }
      }
    }
    if (changed) this.storeOrRemove(map);
    return out;
  }

  private storeOrRemove(map: Map<StateKey, unknown>): void {
    if (map.size === 0) this.table.remove();
    else this.table.set(map);
  }
}

const NOT_FOUND = Symbol('not found');

function refusedUndefined(name: string): TroupeError {
  return new TroupeError('TROUPE_INVALID_ARGUMENT', `state '${name}': undefined cannot be added (it would be indistinguishable from no value)`);
}

function checkedList<T>(values: Iterable<T>, name: string): T[] {
  if (values === null || typeof (values as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `list state '${name}': expected an iterable of values`);
  }
  const list = [...values];
  if (list.some((v) => v === undefined)) throw refusedUndefined(name);
  return list;
}
