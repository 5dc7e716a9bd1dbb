import { TroupeError } from '../../../core/errors.js';
import type { FlatMapFunction } from '../../../api/datastream/functions.js';
import type { Output, StreamOperator } from './stream-operator.js';

export class FlatMapOperator implements StreamOperator {
  constructor(
    private readonly fn: FlatMapFunction<unknown, unknown>,
    private readonly output: Output,
  ) {}
  open(): void {}
  processElement(value: unknown): void {
    const result = this.fn(value);
    if (Array.isArray(result)) {
      for (let i = 0; i < result.length; i++) this.output.collect(result[i]);
      return;
    }
    if (result == null || typeof (result)[Symbol.iterator] !== 'function') {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `flatMap function must return an iterable, got ${result === null ? 'null' : typeof result}`);
    }
    for (const r of result) this.output.collect(r);
  }
  endInput(): void {}
  close(): void {}
}
