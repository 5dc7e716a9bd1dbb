/** Keyed AggregatingState: an accumulator per key fed through an AggregateFunction (Flink's AggregatingState). */
import type { AggregateFunction } from '../api/datastream/functions.js';
import { TroupeError } from '../core/errors.js';
import { checkDescriptor, requireFunction, type StateDescriptorBase } from './state-descriptor.js';
import type { StateDescriptorOptions } from './ttl.js';

export interface AggregatingStateDescriptor<IN, ACC, OUT> extends StateDescriptorBase {
  readonly aggregateFunction: AggregateFunction<IN, ACC, OUT>;
}

export interface AggregatingState<IN, OUT> {
  /** getResult of the accumulator; undefined when nothing was added since the last clear. */
  get(): OUT | undefined;
  /** Starts from createAccumulator() when empty, then accumulator = add(value, accumulator). */
  add(value: IN): void;
  clear(): void;
}

export function aggregatingStateDescriptor<IN, ACC, OUT>(
  name: string,
  aggregateFunction: AggregateFunction<IN, ACC, OUT>,
  options: StateDescriptorOptions = {},
): AggregatingStateDescriptor<IN, ACC, OUT> {
  const descriptor: AggregatingStateDescriptor<IN, ACC, OUT> = { name, aggregateFunction, ...(options.ttl !== undefined ? { ttl: options.ttl } : {}) };
  checkAggregatingDescriptor(descriptor);
  return descriptor;
}

export function checkAggregatingDescriptor(descriptor: AggregatingStateDescriptor<unknown, unknown, unknown>): void {
  checkDescriptor(descriptor, 'aggregating');
  const fn = descriptor.aggregateFunction;
  if (fn === null || typeof fn !== 'object') {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `state '${descriptor.name}': aggregateFunction must be an object { createAccumulator, add, getResult, merge? }`);
  }
  const methods = fn as unknown as Record<string, unknown>;
  for (const method of ['createAccumulator', 'add', 'getResult']) requireFunction(methods[method], `aggregateFunction.${method}`, descriptor.name);
  if (methods.merge !== undefined) requireFunction(methods.merge, 'aggregateFunction.merge', descriptor.name);
}
