/**
 * Keyed MapState: a map per key (Flink's MapState). User keys are identified by value like record
 * keys (state/key-groups.ts stateKeyOf): 0 and -0 are one key, { a: 1 } and { a: 1 } are one key,
 * and keys come back as equal copies. Under TTL each entry expires alone.
 */
import { checkDescriptor, type StateDescriptorBase } from './state-descriptor.js';
import type { StateDescriptorOptions } from './ttl.js';

export interface MapStateDescriptor<K, V> extends StateDescriptorBase {
  /** Type carriers only; never set. */
  readonly __key?: K;
  readonly __value?: V;
}

export interface MapState<K, V> {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  putAll(entries: Iterable<readonly [K, V]>): void;
  remove(key: K): void;
  contains(key: K): boolean;
  /** Snapshots (arrays), in insertion order: safe to modify the state while walking them. */
  entries(): Array<[K, V]>;
  keys(): K[];
  values(): V[];
  isEmpty(): boolean;
  clear(): void;
}

export function mapStateDescriptor<K, V>(name: string, options: StateDescriptorOptions = {}): MapStateDescriptor<K, V> {
  const descriptor: MapStateDescriptor<K, V> = { name, ...(options.ttl !== undefined ? { ttl: options.ttl } : {}) };
  checkDescriptor(descriptor, 'map');
  return descriptor;
}
