import type { ProcessContext, ProcessFunction, RuntimeContext } from '../../../api/datastream/functions.js';
import type { OperatorContext, Output, StreamOperator } from './stream-operator.js';

export function runtimeContextOf(ctx: OperatorContext): RuntimeContext {
  return {
    operatorName: ctx.operatorName,
    subtaskIndex: ctx.subtaskIndex,
    parallelism: ctx.parallelism,
    maxParallelism: ctx.maxParallelism,
    jobId: ctx.jobId,
  };
}

export class ProcessOperator implements StreamOperator {
  private readonly processContext: ProcessContext;
  constructor(
    private readonly fn: ProcessFunction<unknown, unknown>,
    private readonly ctx: OperatorContext,
    private readonly output: Output,
  ) {
    this.processContext = { runtime: runtimeContextOf(ctx) };
  }
  async open(): Promise<void> {
    await this.fn.open?.(this.processContext.runtime);
  }
  processElement(value: unknown): void {
    this.fn.processElement(value, this.processContext, this.output);
  }
  endInput(): void {}
  async close(): Promise<void> {
    await this.fn.close?.();
  }
}
