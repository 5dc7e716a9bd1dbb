/** User function types of the DataStream API. Functions must not mutate their input records. */
import type { ValueState, ValueStateDescriptor } from '../../state/value-state.js';

export type MapFunction<T, R> = (value: T) => R;
export type FilterFunction<T> = (value: T) => boolean;
export type FlatMapFunction<T, R> = (value: T) => Iterable<R>;
export type KeySelector<T, K> = (value: T) => K;
export type ReduceFunction<T> = (accumulated: T, value: T) => T;

export interface Collector<T> {
  collect(value: T): void;
}

export interface RuntimeContext {
  readonly operatorName: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly jobId: string;
}

export interface KeyedRuntimeContext extends RuntimeContext {
  /** Keyed state, scoped to the key of the record being processed. */
  getState<V>(descriptor: ValueStateDescriptor<V>): ValueState<V>;
}

export interface ProcessContext {
  readonly runtime: RuntimeContext;
}

export interface KeyedProcessContext<K> extends ProcessContext {
  readonly runtime: KeyedRuntimeContext;
  getCurrentKey(): K;
}

/** A non-keyed process function (`stream.process(...)`). */
export interface ProcessFunction<T, R> {
  open?(ctx: RuntimeContext): void | Promise<void>;
  processElement(value: T, ctx: ProcessContext, out: Collector<R>): void;
  close?(): void | Promise<void>;
}

/** A keyed process function (`keyedStream.process(...)`): may use keyed state. */
export interface KeyedProcessFunction<K, T, R> {
  open?(ctx: KeyedRuntimeContext): void | Promise<void>;
  processElement(value: T, ctx: KeyedProcessContext<K>, out: Collector<R>): void;
  close?(): void | Promise<void>;
}
