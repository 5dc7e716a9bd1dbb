/** Keyed ValueState: one value per key, scoped to the key of the record being processed. */
import { checkDescriptor, type StateDescriptorBase } from './state-descriptor.js';
import type { StateDescriptorOptions } from './ttl.js';

export interface ValueStateDescriptor<V> extends StateDescriptorBase {
  /** What value() returns when the key has no (visible) value. */
  readonly defaultValue?: V;
}

export interface ValueState<V> {
  value(): V | undefined;
  /** update(undefined) is clear(). */
  update(value: V): void;
  clear(): void;
}

export function valueStateDescriptor<V>(name: string, defaultValue?: V, options: StateDescriptorOptions = {}): ValueStateDescriptor<V> {
  const descriptor: ValueStateDescriptor<V> = {
    name,
    ...(defaultValue !== undefined ? { defaultValue } : {}),
    ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
  };
  checkDescriptor(descriptor, 'value');
  return descriptor;
}
