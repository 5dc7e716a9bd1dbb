import type { Sink, SinkWriter } from '../sink.js';

/** Drops every record (benchmarks, jobs run for their side effects). */
export class DiscardingSink<T = unknown> implements Sink<T> {
  createWriter(): SinkWriter<T> {
    return { write(): void {} };
  }
}
