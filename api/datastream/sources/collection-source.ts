/** A bounded source over an in-memory array (non-parallel, like Flink's fromCollection). */
import type { Collector } from '../functions.js';
import type { PollResult, Source, SourceReader } from '../source.js';

export class CollectionSource<T> implements Source<T> {
  readonly maxParallelism = 1;
  constructor(private readonly items: readonly T[]) {}
  createReader(): SourceReader<T> {
    const items = this.items;
    let next = 0;
    return {
      pollNext(out: Collector<T>, max: number): PollResult {
        const end = Math.min(items.length, next + max);
        while (next < end) out.collect(items[next++]!);
        return next >= items.length ? 'end' : 'more';
      },
    };
  }
}
