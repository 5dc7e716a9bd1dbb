import type { Sink, SinkWriter } from '../../../api/datastream/sink.js';
import type { OperatorContext, StreamOperator } from './stream-operator.js';

export class SinkOperator implements StreamOperator {
  readonly writer: SinkWriter<unknown>;
  constructor(sink: Sink<unknown>, ctx: OperatorContext) {
    const restored = ctx.restoredOperatorState;
    this.writer = sink.createWriter({
      subtaskIndex: ctx.subtaskIndex,
      parallelism: ctx.parallelism,
      operatorName: ctx.operatorName,
      attempt: ctx.attempt,
      jobId: ctx.jobId,
      checkpointing: ctx.checkpointing,
      ...(restored !== undefined ? { restoredState: restored } : {}),
      collect: (records) => ctx.collect(records),
    });
  }
  async open(): Promise<void> {
    await this.writer.open?.();
  }
  processElement(value: unknown): void {
    this.writer.write(value);
  }
  async endInput(): Promise<void> {
    await this.writer.flush?.();
  }
  async close(): Promise<void> {
    await this.writer.close?.();
  }
}
