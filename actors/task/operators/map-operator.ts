import type { MapFunction } from '../../../api/datastream/functions.js';
import type { Output, StreamOperator } from './stream-operator.js';

export class MapOperator implements StreamOperator {
  constructor(
    private readonly fn: MapFunction<unknown, unknown>,
    private readonly output: Output,
  ) {}
  open(): void {}
  processElement(value: unknown): void {
    this.output.collect(this.fn(value));
  }
  endInput(): void {}
  close(): void {}
}
