/** Sources: a Source describes the data; each parallel subtask reads through its own reader. */
import type { Collector } from './functions.js';

export interface SourceContext {
  readonly subtaskIndex: number;
  readonly parallelism: number;
}

/** What `pollNext` reports: more data now, the end of the data, or a promise of more later. */
export type PollResult = 'more' | 'end' | Promise<void>;

export interface SourceReader<T> {
  open?(): void | Promise<void>;
  /** Emit at most `max` records into `output`, synchronously. */
  pollNext(output: Collector<T>, max: number): PollResult;
  close?(): void | Promise<void>;
}

export interface Source<T> {
  /** Largest useful parallelism (e.g. 1 for a collection); undefined = any. */
  readonly maxParallelism?: number;
  createReader(ctx: SourceContext): SourceReader<T>;
}
