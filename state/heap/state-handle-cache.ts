/**
 * One state handle per name, for the heap and sqlite backends (both keep resident state in
 * StateTables): user code often calls getState for every record, so an equivalent descriptor gets
 * the cached handle back. The backend only says which table a state lives in.
 *
 * Invariants:
 *  1. An equivalent descriptor (same kind, TTL, default value, reduce or aggregate function) gets the
 *     cached handle, which then remembers the newest descriptor object.
 *  2. Any other descriptor for the name is checked, its TTL resolved, and its table created or
 *     checked compatible by the backend before a new handle replaces the cached one.
 */
import { checkAggregatingDescriptor, type AggregatingState, type AggregatingStateDescriptor } from '../aggregating-state.js';
import type { KeyedStateInfoLike } from '../backend.js';
import type { ListState, ListStateDescriptor } from '../list-state.js';
import type { MapState, MapStateDescriptor } from '../map-state.js';
import type { ReducingState, ReducingStateDescriptor } from '../reducing-state.js';
import { checkDescriptor, requireFunction, type StateDescriptorBase, type StateKind } from '../state-descriptor.js';
import { resolveTtl, sameTtl } from '../ttl.js';
import type { ValueState, ValueStateDescriptor } from '../value-state.js';
import { HeapAggregatingState, HeapListState, HeapMapState, HeapReducingState, HeapValueState } from './heap-state-handles.js';
import type { StateTable } from './state-table.js';

interface CachedHandle {
  readonly kind: StateKind;
  descriptor: StateDescriptorBase;
  readonly handle: unknown;
}

export class StateHandleCache {
  private readonly handles = new Map<string, CachedHandle>();

  /** `tableFor` returns the table of a state, creating it or checking that it fits `info`. */
  constructor(private readonly tableFor: (info: KeyedStateInfoLike) => StateTable) {}

  value<V>(descriptor: ValueStateDescriptor<V>): ValueState<V> {
    const cached = this.handles.get(descriptor.name);
    if (cached !== undefined && cached.kind === 'value') {
      if (cached.descriptor === descriptor) return cached.handle as ValueState<V>;
      if (Object.is((cached.descriptor as ValueStateDescriptor<V>).defaultValue, descriptor.defaultValue) && this.reuses(cached, descriptor)) return cached.handle as ValueState<V>;
    }
    checkDescriptor(descriptor, 'value');
    return this.register(descriptor, 'value', (t) => new HeapValueState<V>(t, descriptor.defaultValue));
  }

  list<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    const cached = this.handles.get(descriptor.name);
    if (cached !== undefined && cached.kind === 'list' && this.reuses(cached, descriptor)) return cached.handle as ListState<T>;
    checkDescriptor(descriptor, 'list');
    return this.register(descriptor, 'list', (t) => new HeapListState<T>(t));
  }

  map<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> {
    const cached = this.handles.get(descriptor.name);
    if (cached !== undefined && cached.kind === 'map' && this.reuses(cached, descriptor)) return cached.handle as MapState<K, V>;
    checkDescriptor(descriptor, 'map');
    return this.register(descriptor, 'map', (t) => new HeapMapState<K, V>(t));
  }

  reducing<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> {
    const cached = this.handles.get(descriptor.name);
    if (cached !== undefined && cached.kind === 'reducing') {
      const c = cached.descriptor as ReducingStateDescriptor<T>;
      if (c === descriptor || (c.reduceFunction === descriptor.reduceFunction && this.reuses(cached, descriptor))) return cached.handle as ReducingState<T>;
    }
    checkDescriptor(descriptor, 'reducing');
    requireFunction(descriptor.reduceFunction, 'reduceFunction', descriptor.name);
    return this.register(descriptor, 'reducing', (t) => new HeapReducingState<T>(t, descriptor.reduceFunction));
  }

  aggregating<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    const cached = this.handles.get(descriptor.name);
    if (cached !== undefined && cached.kind === 'aggregating') {
      const c = cached.descriptor as AggregatingStateDescriptor<IN, ACC, OUT>;
      if (c === descriptor || (c.aggregateFunction === descriptor.aggregateFunction && this.reuses(cached, descriptor))) return cached.handle as AggregatingState<IN, OUT>;
    }
    checkAggregatingDescriptor(descriptor);
    return this.register(descriptor, 'aggregating', (t) => new HeapAggregatingState<IN, ACC, OUT>(t, descriptor.aggregateFunction));
  }

  clear(): void {
    this.handles.clear();
  }

  /** Invariant 1. */
  private reuses(cached: CachedHandle, descriptor: StateDescriptorBase): boolean {
    if (cached.descriptor === descriptor) return true;
    if (!sameTtl(cached.descriptor.ttl, descriptor.ttl)) return false;
    cached.descriptor = descriptor;
    return true;
  }

  /** Invariant 2. */
  private register<H>(descriptor: StateDescriptorBase, kind: StateKind, create: (table: StateTable) => H): H {
    const { name } = descriptor;
    const ttl = resolveTtl(descriptor.ttl, name);
    const table = this.tableFor({ name, kind, ttl: ttl !== undefined });
    table.ttl = ttl;
    const handle = create(table);
    this.handles.set(name, { kind, descriptor, handle });
    return handle;
  }
}
