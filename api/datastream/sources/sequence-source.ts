/**
 * Numbers from `from` to `to` inclusive, split into contiguous ranges across subtasks, optionally
 * rate-limited (records per second over all subtasks).
 */
import { TroupeError } from '../../../core/errors.js';
import type { Collector } from '../functions.js';
import type { PollResult, Source, SourceContext, SourceReader } from '../source.js';

export interface SequenceOptions {
  readonly ratePerSecond?: number;
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
    const total = this.to - this.from + 1;
    const per = Math.floor(total / ctx.parallelism);
    const extra = total % ctx.parallelism;
    const start = this.from + ctx.subtaskIndex * per + Math.min(ctx.subtaskIndex, extra);
    const end = start + per + (ctx.subtaskIndex < extra ? 1 : 0); // exclusive
    let next = start;
    const rate = this.options.ratePerSecond === undefined ? undefined : this.options.ratePerSecond / ctx.parallelism;
    let t0 = 0;
    return {
      pollNext(out: Collector<number>, max: number): PollResult {
        if (next >= end) return 'end';
        let limit = Math.min(end, next + max);
        if (rate !== undefined) {
          const now = performance.now();
          if (t0 === 0) t0 = now;
          const allowed = start + Math.floor(((now - t0) / 1000) * rate) + 1;
          if (allowed <= next) {
            const waitMs = Math.max(1, ((next - start + 1) / rate) * 1000 - (now - t0));
            return new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, 50)));
          }
          limit = Math.min(limit, allowed);
        }
        while (next < limit) out.collect(next++);
        return next >= end ? 'end' : 'more';
      },
    };
  }
}
