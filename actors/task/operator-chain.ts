/**
 * Builds the operators of one chained vertex and wires their outputs: chained successors are
 * direct calls; outputs leaving the chain go to record writers of result partitions.
 *
 * Invariants:
 *  1. A failure inside any operator surfaces as an OperatorFailure naming the innermost failing
 *     operator, whatever chained operators the record passed through first.
 *  2. Operators open tail-first (a successor is ready before its predecessor emits) and
 *     end input / close head-first.
 */
import { TroupeError } from '../../core/errors.js';
import type { JobVertex, OperatorSpec } from '../../core/job-graph.js';
import type { Collector } from '../../api/datastream/functions.js';
import type { RecordWriter } from '../network/channel-selector.js';
import { FilterOperator } from './operators/filter-operator.js';
import { FlatMapOperator } from './operators/flat-map-operator.js';
import { KeyedProcessOperator } from './operators/keyed-process-operator.js';
import { KeyedReduceOperator } from './operators/keyed-reduce-operator.js';
import { MapOperator } from './operators/map-operator.js';
import { ProcessOperator } from './operators/process-operator.js';
import { SinkOperator } from './operators/sink-operator.js';
import type { OperatorContext, Output, StreamOperator } from './operators/stream-operator.js';
import type { JobUserCode, OperatorUserCode } from './user-code.js';
import type { Source } from '../../api/datastream/source.js';

export class OperatorFailure extends Error {
  constructor(
    readonly operatorName: string,
    readonly thrown: unknown,
  ) {
    super(`operator '${operatorName}' failed: ${thrown instanceof Error ? thrown.message : String(thrown)}`);
    this.name = 'OperatorFailure';
  }
}

/** The input side of a chained operator: counts records and names failures. */
export class ChainLink implements Output {
  recordsIn = 0;
  operator: StreamOperator | null = null;
  constructor(readonly name: string) {}
  collect(value: unknown): void {
    this.recordsIn++;
    try {
      this.operator!.processElement(value);
    } catch (error) {
      throw error instanceof OperatorFailure ? error : new OperatorFailure(this.name, error);
    }
  }
}

export class CountingWriter implements Output {
  count = 0;
  constructor(private readonly writer: RecordWriter) {}
  collect(value: unknown): void {
    this.count++;
    this.writer.write(value);
  }
}

class FanOut implements Output {
  constructor(private readonly outputs: readonly Output[]) {}
  collect(value: unknown): void {
    for (let i = 0; i < this.outputs.length; i++) this.outputs[i]!.collect(value);
  }
}

class Discard implements Output {
  collect(): void {}
}

export type ContextFactory = (operator: OperatorSpec) => OperatorContext;

export class OperatorChain {
  readonly links: ChainLink[];
  /** Per chain member: writers of its outputs that leave the chain. */
  private readonly writers: CountingWriter[][];
  readonly operators: StreamOperator[];
  readonly source: { readonly source: Source<unknown>; readonly output: Output } | null;
  private opened = 0;

  constructor(
    readonly vertex: JobVertex,
    userCode: JobUserCode,
    networkWriters: ReadonlyMap<string, RecordWriter>,
    contextFor: ContextFactory,
  ) {
    const specs = vertex.operators;
    this.links = specs.map((s) => new ChainLink(s.name));
    this.writers = specs.map((s) =>
      s.outEdges.map((edge) => {
        const w = networkWriters.get(edge);
        if (w === undefined) throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `no record writer for edge ${edge}`);
        return new CountingWriter(w);
      }),
    );
    const outputOf = (i: number): Output => {
      const spec = specs[i]!;
      const outs: Output[] = [...spec.chainedOutputs.map((j) => this.links[j]!), ...this.writers[i]!];
      return outs.length === 0 ? new Discard() : outs.length === 1 ? outs[0]! : new FanOut(outs);
    };
    const code = (spec: OperatorSpec): OperatorUserCode => {
      const c = userCode.get(spec.id);
      if (c === undefined || c.kind !== spec.kind) {
        throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `no user code of kind '${spec.kind}' for operator ${spec.id} (${spec.name})`);
      }
      return c;
    };
    this.operators = [];
    let source: OperatorChain['source'] = null;
    specs.forEach((spec, i) => {
      const c = code(spec);
      if (c.kind === 'source') {
        if (i !== 0) throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `source ${spec.name} is not the head of its chain`);
        source = { source: c.source, output: outputOf(0) };
        this.operators.push(new NoopOperator());
        return;
      }
      const op = createOperator(c, contextFor(spec), outputOf(i));
      this.links[i]!.operator = op;
      this.operators.push(op);
    });
    this.source = source;
  }

  /** Where the vertex's input enters (not used for source vertices). */
  get head(): Collector<unknown> {
    return this.links[0]!;
  }

  async open(): Promise<void> {
    for (let i = this.operators.length - 1; i >= 0; i--) {
      await this.guard(i, () => this.operators[i]!.open());
      this.opened++;
    }
  }

  async endInput(): Promise<void> {
    for (let i = 0; i < this.operators.length; i++) await this.guard(i, () => this.operators[i]!.endInput());
  }

  /** Closes what was opened; the first failure is thrown after all were tried. */
  async close(): Promise<void> {
    let first: unknown = null;
    const n = this.operators.length;
    for (let i = n - this.opened; i < n; i++) {
      try {
        await this.guard(i, () => this.operators[i]!.close());
      } catch (error) {
        first ??= error;
      }
    }
    this.opened = 0;
    if (first !== null) throw first instanceof Error ? first : new Error('operator close failed', { cause: first });
  }

  recordsIn(i: number): number {
    if (i === 0 && this.source !== null) return 0;
    return this.links[i]!.recordsIn;
  }

  recordsOut(i: number): number {
    const spec = this.vertex.operators[i]!;
    let n = 0;
    for (const j of spec.chainedOutputs) n += this.links[j]!.recordsIn;
    for (const w of this.writers[i]!) n += w.count;
    return n;
  }

  private async guard(i: number, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      throw error instanceof OperatorFailure ? error : new OperatorFailure(this.links[i]!.name, error);
    }
  }
}

class NoopOperator implements StreamOperator {
  open(): void {}
  processElement(): void {}
  endInput(): void {}
  close(): void {}
}

function createOperator(code: OperatorUserCode, ctx: OperatorContext, output: Output): StreamOperator {
  switch (code.kind) {
    case 'map':
      return new MapOperator(code.fn, output);
    case 'filter':
      return new FilterOperator(code.fn, output);
    case 'flat-map':
      return new FlatMapOperator(code.fn, output);
    case 'process':
      return new ProcessOperator(code.fn, ctx, output);
    case 'keyed-process':
      return new KeyedProcessOperator(code.fn, code.keySelector, ctx, output);
    case 'reduce':
      return new KeyedReduceOperator(code.fn, code.keySelector, ctx, output);
    case 'sink':
      return new SinkOperator(code.sink, ctx);
    case 'source':
      throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', 'a source can only head a chain');
  }
}
