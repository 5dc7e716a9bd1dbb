/** Keyed ListState: a list of elements per key (Flink's ListState). Under TTL each element expires alone. */
import { checkDescriptor, type StateDescriptorBase } from './state-descriptor.js';
import type { StateDescriptorOptions } from './ttl.js';

export interface ListStateDescriptor<T> extends StateDescriptorBase {
  /** Type carrier only; never set. */
  readonly __element?: T;
}

export interface ListState<T> {
  /** A copy of the elements, oldest first; [] when there are none. */
  get(): T[];
  /** Appends; undefined is refused (it would be indistinguishable from absence). */
  add(value: T): void;
  addAll(values: Iterable<T>): void;
  /** Replaces the list; an empty list clears. */
  update(values: Iterable<T>): void;
  clear(): void;
}

export function listStateDescriptor<T>(name: string, options: StateDescriptorOptions = {}): ListStateDescriptor<T> {
  const descriptor: ListStateDescriptor<T> = { name, ...(options.ttl !== undefined ? { ttl: options.ttl } : {}) };
  checkDescriptor(descriptor, 'list');
  return descriptor;
}
