import type { KeyedProcessContext, KeyedProcessFunction, KeyedRuntimeContext, KeySelector } from '../../../api/datastream/functions.js';
import type { HeapKeyedStateBackend } from '../../../state/heap/heap-keyed-state-backend.js';
import { runtimeContextOf } from './process-operator.js';
import type { OperatorContext, Output, StreamOperator } from './stream-operator.js';

export class KeyedProcessOperator implements StreamOperator {
  private readonly backend: HeapKeyedStateBackend;
  private readonly processContext: KeyedProcessContext<unknown>;

  constructor(
    private readonly fn: KeyedProcessFunction<unknown, unknown, unknown>,
    private readonly keySelector: KeySelector<unknown, unknown>,
    ctx: OperatorContext,
    private readonly output: Output,
  ) {
    const backend = (this.backend = ctx.keyedStateBackend());
    const runtime: KeyedRuntimeContext = { ...runtimeContextOf(ctx), getState: (d) => backend.getValueState(d) };
    this.processContext = { runtime, getCurrentKey: () => backend.getCurrentKey() };
  }
  async open(): Promise<void> {
    await this.fn.open?.(this.processContext.runtime);
  }
  processElement(value: unknown): void {
    this.backend.setCurrentKey(this.keySelector(value));
    this.fn.processElement(value, this.processContext, this.output);
  }
  endInput(): void {}
  async close(): Promise<void> {
    await this.fn.close?.();
  }
}
