/** Sources: a Source describes the data; each parallel subtask reads through its own reader. */
import type { Collector } from './functions.js';

export interface SourceContext {
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /**
   * The splits (positions) this reader restores from a checkpoint or savepoint, as `snapshotState`
   * returned them — possibly those of other old subtasks after a rescale; undefined on a fresh start.
   */
  readonly restoredState?: readonly unknown[];
}

/** What `pollNext` reports: more data now, the end of the data, or a promise of more later. */
export type PollResult = 'more' | 'end' | Promise<void>;

export interface SourceReader<T> {
  open?(): void | Promise<void>;
  /** Emit at most `max` records into `output`, synchronously. */
  pollNext(output: Collector<T>, max: number): PollResult;
  close?(): void | Promise<void>;
  /**
   * Replayable sources: the reader's position as a list of plain-JSON splits, taken synchronously
   * between two pollNext calls; a reader created with these as `restoredState` continues exactly
   * after the last record emitted before the call. A reader without it is not replayed on restore.
   */
  snapshotState?(checkpointId: number): unknown[];
}

export interface Source<T> {
  /** Largest useful parallelism (e.g. 1 for a collection); undefined = any. */
  readonly maxParallelism?: number;
  createReader(ctx: SourceContext): SourceReader<T>;
}
