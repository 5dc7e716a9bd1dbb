/** reduce / sum on a keyed stream: emits the running result per record (Flink's StreamGroupedReduce). */
import type { KeySelector, ReduceFunction } from '../../../api/datastream/functions.js';
import type { KeyedStateBackend } from '../../../state/backend.js';
import type { ValueState } from '../../../state/value-state.js';
import type { OperatorContext, Output, StreamOperator } from './stream-operator.js';

export class KeyedReduceOperator implements StreamOperator {
  private readonly backend: KeyedStateBackend;
  private readonly state: ValueState<unknown>;

  constructor(
    private readonly fn: ReduceFunction<unknown>,
    private readonly keySelector: KeySelector<unknown, unknown>,
    ctx: OperatorContext,
    private readonly output: Output,
  ) {
    this.backend = ctx.keyedStateBackend();
    this.state = this.backend.getValueState({ name: `_reduce:${ctx.operatorName}` });
  }
  open(): void {}
  processElement(value: unknown): void {
    this.backend.setCurrentKey(this.keySelector(value));
    const current = this.state.value();
    const next = current === undefined ? value : this.fn(current, value);
    this.state.update(next);
    this.output.collect(next);
  }
  endInput(): void {}
  close(): void {}
}
