/** User function types of the DataStream API. Functions must not mutate their input records. */
import type { AggregatingState, AggregatingStateDescriptor } from '../../state/aggregating-state.js';
import type { ListState, ListStateDescriptor } from '../../state/list-state.js';
import type { MapState, MapStateDescriptor } from '../../state/map-state.js';
import type { ReducingState, ReducingStateDescriptor } from '../../state/reducing-state.js';
import type { ValueState, ValueStateDescriptor } from '../../state/value-state.js';

export type MapFunction<T, R> = (value: T) => R;
export type FilterFunction<T> = (value: T) => boolean;
export type FlatMapFunction<T, R> = (value: T) => Iterable<R>;
export type KeySelector<T, K> = (value: T) => K;
export type ReduceFunction<T> = (accumulated: T, value: T) => T;

/** Incremental aggregation through an accumulator (Flink's AggregateFunction). */
export interface AggregateFunction<IN, ACC, OUT> {
  createAccumulator(): ACC;
  /** Returns the new accumulator (may be the given one, modified). */
  add(value: IN, accumulator: ACC): ACC;
  getResult(accumulator: ACC): OUT;
  /** Combines two accumulators (merging windows); not needed by AggregatingState itself. */
  merge?(a: ACC, b: ACC): ACC;
}

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
  /**
   * Keyed state, scoped to the key of the record being processed. Handles may be obtained in open()
   * or per record (cheap: one handle per name is cached); they are used only inside processElement.
   */
  getState<V>(descriptor: ValueStateDescriptor<V>): ValueState<V>;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
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
