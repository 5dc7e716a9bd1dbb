/** DataStream and KeyedStream: the fluent API that records transformations. */
import { TroupeError } from '../../core/errors.js';
import type { OperatorUserCode } from '../../actors/task/user-code.js';
import type {
  FilterFunction,
  FlatMapFunction,
  KeyedProcessFunction,
  KeySelector,
  MapFunction,
  ProcessFunction,
  ReduceFunction,
} from './functions.js';
import type { Sink } from './sink.js';
import { PrintSink } from './sinks/print-sink.js';
import { operatorTransformation, type Transformation } from './transformation.js';
import { validateParallelism } from './job-graph-builder.js';

/** What a stream needs from its environment (kept narrow to avoid a cycle). */
export interface StreamContext {
  readonly maxParallelism: number;
  nextId(): number;
  add(t: Transformation): void;
  addSink(t: Transformation): void;
}

function requireFunction(fn: unknown, what: string): void {
  if (typeof fn !== 'function') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${what} expects a function, got ${fn === null ? 'null' : typeof fn}`);
}

export class DataStream<T> {
  constructor(
    protected readonly ctx: StreamContext,
    readonly transformation: Transformation,
  ) {}

  map<R>(fn: MapFunction<T, R>, name = 'Map'): DataStream<R> {
    requireFunction(fn, 'map');
    return this.operator<R>(name, { kind: 'map', fn: fn as MapFunction<unknown, unknown> });
  }

  filter(fn: FilterFunction<T>, name = 'Filter'): DataStream<T> {
    requireFunction(fn, 'filter');
    return this.operator<T>(name, { kind: 'filter', fn: fn as FilterFunction<unknown> });
  }

  flatMap<R>(fn: FlatMapFunction<T, R>, name = 'FlatMap'): DataStream<R> {
    requireFunction(fn, 'flatMap');
    return this.operator<R>(name, { kind: 'flat-map', fn: fn as FlatMapFunction<unknown, unknown> });
  }

  process<R>(fn: ProcessFunction<T, R>, name = 'Process'): DataStream<R> {
    if (fn === null || typeof fn !== 'object' || typeof fn.processElement !== 'function') {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'process expects an object with a processElement(value, ctx, out) method');
    }
    return this.operator<R>(name, { kind: 'process', fn: fn });
  }

  keyBy<K>(selector: KeySelector<T, K>): KeyedStream<T, K> {
    requireFunction(selector, 'keyBy');
    const t: Transformation = {
      type: 'partition',
      id: this.ctx.nextId(),
      name: 'KeyBy',
      uid: undefined,
      parallelism: undefined,
      partitioner: 'hash',
      keySelector: selector as KeySelector<unknown, unknown>,
      input: this.transformation,
    };
    this.ctx.add(t);
    return new KeyedStream<T, K>(this.ctx, t, selector);
  }

  union(...others: DataStream<T>[]): DataStream<T> {
    for (const o of others) {
      if (!(o instanceof DataStream) || o.ctx !== this.ctx) {
        throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'union: every stream must be a DataStream of the same environment');
      }
    }
    const t: Transformation = {
      type: 'union',
      id: this.ctx.nextId(),
      name: 'Union',
      uid: undefined,
      parallelism: undefined,
      inputs: [this.transformation, ...others.map((o) => o.transformation)],
    };
    this.ctx.add(t);
    return new DataStream<T>(this.ctx, t);
  }

  rebalance(): DataStream<T> {
    return this.partition('rebalance');
  }

  broadcast(): DataStream<T> {
    return this.partition('broadcast');
  }

  forward(): DataStream<T> {
    return this.partition('forward');
  }

  setParallelism(parallelism: number): this {
    validateParallelism(parallelism, this.ctx.maxParallelism, `setParallelism on '${this.transformation.name}'`);
    if (this.transformation.type !== 'operator') {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `setParallelism applies to operators, not to '${this.transformation.name}'`);
    }
    this.transformation.parallelism = parallelism;
    return this;
  }

  name(name: string): this {
    if (typeof name !== 'string' || name.length === 0) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'name must be a non-empty string');
    this.transformation.name = name;
    return this;
  }

  /** A stable operator id: state and user code are matched by it across runs and processes. */
  uid(uid: string): this {
    if (typeof uid !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(uid)) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `uid must be 1-128 characters of [A-Za-z0-9._:-], got ${JSON.stringify(uid)}`);
    }
    this.transformation.uid = uid;
    return this;
  }

  sinkTo(sink: Sink<T>, name = 'Sink'): DataStreamSink<T> {
    if (sink === null || typeof sink !== 'object' || typeof sink.createWriter !== 'function') {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'sinkTo expects a Sink (an object with createWriter(ctx))');
    }
    const t = operatorTransformation(this.ctx.nextId(), name, { kind: 'sink', sink: sink }, [this.transformation]);
    this.ctx.add(t);
    this.ctx.addSink(t);
    return new DataStreamSink<T>(this.ctx, t);
  }

  print(prefix?: string): DataStreamSink<T> {
    return this.sinkTo(new PrintSink<T>(prefix), 'Print');
  }

  protected operator<R>(name: string, code: OperatorUserCode): DataStream<R> {
    const t = operatorTransformation(this.ctx.nextId(), name, code, [this.transformation]);
    this.ctx.add(t);
    return new DataStream<R>(this.ctx, t);
  }

  private partition(partitioner: 'rebalance' | 'broadcast' | 'forward'): DataStream<T> {
    const t: Transformation = {
      type: 'partition',
      id: this.ctx.nextId(),
      name: partitioner,
      uid: undefined,
      parallelism: undefined,
      partitioner,
      input: this.transformation,
    };
    this.ctx.add(t);
    return new DataStream<T>(this.ctx, t);
  }
}

export class KeyedStream<T, K> extends DataStream<T> {
  constructor(
    ctx: StreamContext,
    transformation: Transformation,
    private readonly keySelector: KeySelector<T, K>,
  ) {
    super(ctx, transformation);
  }

  reduce(fn: ReduceFunction<T>, name = 'Reduce'): DataStream<T> {
    requireFunction(fn, 'reduce');
    return this.operator<T>(name, { kind: 'reduce', fn: fn as ReduceFunction<unknown>, keySelector: this.keySelector as KeySelector<unknown, unknown> });
  }

  /** Running sum of a numeric field per key; other fields come from the first record of the key. */
  sum(field: keyof T & string, name = `Sum(${String(field)})`): DataStream<T> {
    if (typeof field !== 'string') throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'sum expects a field name');
    return this.reduce((acc, value) => {
      const a = (acc as Record<string, unknown>)[field];
      const b = (value as Record<string, unknown>)[field];
      if (typeof a !== 'number' || typeof b !== 'number') {
        throw new TroupeError('TROUPE_INVALID_ARGUMENT', `sum('${field}'): field is not a number in ${JSON.stringify(typeof a !== 'number' ? acc : value)}`);
      }
      return { ...acc, [field]: a + b };
    }, name);
  }

  override process<R>(fn: KeyedProcessFunction<K, T, R> | ProcessFunction<T, R>, name = 'KeyedProcess'): DataStream<R> {
    if (fn === null || typeof fn !== 'object' || typeof fn.processElement !== 'function') {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'process expects an object with a processElement(value, ctx, out) method');
    }
    return this.operator<R>(name, {
      kind: 'keyed-process',
      fn: fn,
      keySelector: this.keySelector as KeySelector<unknown, unknown>,
    });
  }
}

export class DataStreamSink<_T> {
  constructor(
    private readonly ctx: StreamContext,
    readonly transformation: Transformation,
  ) {}
  setParallelism(parallelism: number): this {
    validateParallelism(parallelism, this.ctx.maxParallelism, `setParallelism on '${this.transformation.name}'`);
    this.transformation.parallelism = parallelism;
    return this;
  }
  name(name: string): this {
    this.transformation.name = name;
    return this;
  }
  uid(uid: string): this {
    this.transformation.uid = uid;
    return this;
  }
}
