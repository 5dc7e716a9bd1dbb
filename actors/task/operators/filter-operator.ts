import type { FilterFunction } from '../../../api/datastream/functions.js';
import type { Output, StreamOperator } from './stream-operator.js';

export class FilterOperator implements StreamOperator {
  constructor(
    private readonly fn: FilterFunction<unknown>,
    private readonly output: Output,
  ) {}
  open(): void {}
  processElement(value: unknown): void {
    if (this.fn(value)) this.output.collect(value);
  }
  endInput(): void {}
  close(): void {}
}
