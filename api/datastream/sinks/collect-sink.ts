/**
 * Marks records a client may collect: each subtask ships them in batches to the JobMaster, which
 * returns them with the job result (`executeAndCollect`). Meant for bounded results.
 */
import type { Sink, SinkContext, SinkWriter } from '../sink.js';

export class CollectSink<T = unknown> implements Sink<T> {
  constructor(private readonly batchSize = 1024) {}
  createWriter(ctx: SinkContext): SinkWriter<T> {
    let batch: unknown[] = [];
    const size = this.batchSize;
    const ship = (): void => {
      if (batch.length === 0) return;
      ctx.collect(batch);
      batch = [];
    };
    return {
      write(value: T): void {
        batch.push(value);
        if (batch.length >= size) ship();
      },
      flush: ship,
      close: ship,
    };
  }
}
