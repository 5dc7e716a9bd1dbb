/**
 * Numbers from `from` to `to` inclusive, split into contiguous ranges across subtasks, optionally
 * rate-limited (records per second over all subtasks). Replayable: a reader's position is its list
 * of ranges still to read (`{ next, end }`, end exclusive); after a rescale a reader may own several.
 */
import { TroupeError } from '../../../core/errors.js';
import type { Collector } from '../functions.js';
import type { PollResult, Source, SourceContext, SourceReader } from '../source.js';

export interface SequenceOptions {
  readonly ratePerSecond?: number;
}

interface SequenceSplit {
  next: number;
  readonly end: number;
}

export class SequenceSource implements Source<number> {
  constructor(
    private readonly from: number,
    private readonly to: number,
    private readonly options: SequenceOptions = {},
  ) {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to < from) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `fromSequence needs safe integers from <= to, got ${from}..${to}`);
    }
    const rate = options.ratePerSecond;
    if (rate !== undefined && !(typeof rate === 'number' && rate > 0 && Number.isFinite(rate))) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `ratePerSecond must be a positive number, got ${String(rate)}`);
    }
  }

  createReader(ctx: SourceContext): SourceReader<number> {
    const splits: SequenceSplit[] = ctx.restoredState === undefined ? [this.initialSplit(ctx)] : ctx.restoredState.map((s) => this.checkSplit(s));
    const rate = this.options.ratePerSecond === undefined ? undefined : this.options.ratePerSecond / ctx.parallelism;
    let t0 = 0;
    let emitted = 0;
    let i = 0;
    return {
      pollNext(out: Collector<number>, max: number): PollResult {
        while (i < splits.length && splits[i]!.next >= splits[i]!.end) i++;
        if (i >= splits.length) return 'end';
        const split = splits[i]!;
        let limit = Math.min(split.end, split.next + max);
        if (rate !== undefined) {
          const now = performance.now();
          if (t0 === 0) t0 = now;
          const allowed = Math.floor(((now - t0) / 1000) * rate) + 1 - emitted;
          if (allowed <= 0) {
            const waitMs = Math.max(1, ((emitted + 1) / rate) * 1000 - (now - t0));
            return new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, 50)));
          }
          limit = Math.min(limit, split.next + allowed);
        }
        emitted += limit - split.next;
        while (split.next < limit) out.collect(split.next++);
        return 'more';
      },
      snapshotState: () => splits.filter((s) => s.next < s.end).map((s) => ({ next: s.next, end: s.end })),
    };
  }

  private initialSplit(ctx: SourceContext): SequenceSplit {
    const total = this.to - this.from + 1;
    const per = Math.floor(total / ctx.parallelism);
    const extra = total % ctx.parallelism;
    const start = this.from + ctx.subtaskIndex * per + Math.min(ctx.subtaskIndex, extra);
    return { next: start, end: start + per + (ctx.subtaskIndex < extra ? 1 : 0) };
  }

  private checkSplit(s: unknown): SequenceSplit {
    const r = s as Partial<SequenceSplit> | null;
    const ok = r !== null && typeof r === 'object' && Number.isSafeInteger(r.next) && Number.isSafeInteger(r.end) && r.next! <= r.end! && r.next! >= this.from && r.end! <= this.to + 1;
    if (!ok) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `restored sequence split ${JSON.stringify(s)} does not lie in ${this.from}..${this.to}`);
    return { next: r.next!, end: r.end! };
  }
}
