/** Keyed ReducingState: one value per key that add() folds with a ReduceFunction (Flink's ReducingState). */
import type { ReduceFunction } from '../api/datastream/functions.js';
import { checkDescriptor, requireFunction, type StateDescriptorBase } from './state-descriptor.js';
import type { StateDescriptorOptions } from './ttl.js';

export interface ReducingStateDescriptor<T> extends StateDescriptorBase {
  readonly reduceFunction: ReduceFunction<T>;
}

export interface ReducingState<T> {
  /** The fold of everything added since the last clear; undefined when nothing was added. */
  get(): T | undefined;
  /** The first value is stored as is; later ones fold: reduceFunction(accumulated, value). */
  add(value: T): void;
  clear(): void;
}

export function reducingStateDescriptor<T>(name: string, reduceFunction: ReduceFunction<T>, options: StateDescriptorOptions = {}): ReducingStateDescriptor<T> {
  const descriptor: ReducingStateDescriptor<T> = { name, reduceFunction, ...(options.ttl !== undefined ? { ttl: options.ttl } : {}) };
  checkDescriptor(descriptor, 'reducing');
  requireFunction(reduceFunction, 'reduceFunction', name);
  return descriptor;
}
