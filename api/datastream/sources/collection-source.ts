/** A bounded source over an in-memory array (non-parallel, like Flink's fromCollection); replayable by index. */
import { TroupeError } from '../../../core/errors.js';
import type { Collector } from '../functions.js';
import type { PollResult, Source, SourceContext, SourceReader } from '../source.js';

export class CollectionSource<T> implements Source<T> {
  readonly maxParallelism = 1;
  constructor(private readonly items: readonly T[]) {}
  createReader(ctx?: SourceContext): SourceReader<T> {
    const items = this.items;
    let next = 0;
    const restored = ctx?.restoredState;
    if (restored !== undefined && restored.length > 0) {
      const r = restored[0] as { next?: unknown } | null;
      if (restored.length !== 1 || typeof r?.next !== 'number' || !Number.isSafeInteger(r.next) || r.next < 0 || r.next > items.length) {
        throw new TroupeError('TROUPE_INVALID_ARGUMENT', `restored collection position ${JSON.stringify(restored)} does not fit a collection of ${items.length}`);
      }
      next = r.next;
    }
    return {
      pollNext(out: Collector<T>, max: number): PollResult {
        const end = Math.min(items.length, next + max);
        while (next < end) out.collect(items[next++]!);
        return next >= items.length ? 'end' : 'more';
      },
      snapshotState: () => [{ next }],
    };
  }
}
