/**
 * The Nexmark generator as a parallel source: subtask i of p reads split i of p. Replayable: a
 * split's position is the number of events it emitted (`{ split, of, emitted }`); after a rescale a
 * reader may own several splits and reads them one after the other.
 */
import { TroupeError } from '../../core/errors.js';
import type { Collector } from '../datastream/functions.js';
import type { PollResult, Source, SourceContext, SourceReader } from '../datastream/source.js';
import { NexmarkGenerator, type NexmarkGeneratorConfig } from './generator.js';
import type { NexmarkEvent } from './model.js';

interface NexmarkSplit {
  readonly split: number;
  readonly of: number;
  readonly generator: NexmarkGenerator;
}

export class NexmarkSource implements Source<NexmarkEvent> {
  constructor(private readonly config: NexmarkGeneratorConfig = {}) {
    new NexmarkGenerator(config); // validates the configuration where the job is built
  }

  createReader(ctx: SourceContext): SourceReader<NexmarkEvent> {
    const splits: NexmarkSplit[] =
      ctx.restoredState === undefined
        ? [{ split: ctx.subtaskIndex, of: ctx.parallelism, generator: new NexmarkGenerator(this.config, ctx.subtaskIndex, ctx.parallelism) }]
        : ctx.restoredState.map((s) => this.restoreSplit(s));
    let i = 0;
    return {
      pollNext(out: Collector<NexmarkEvent>, max: number): PollResult {
        while (i < splits.length && !splits[i]!.generator.hasNext()) i++;
        if (i >= splits.length) return 'end';
        const g = splits[i]!.generator;
        for (let n = 0; n < max && g.hasNext(); n++) out.collect(g.next());
        return 'more';
      },
      snapshotState: () => splits.map((s) => ({ split: s.split, of: s.of, emitted: s.generator.eventsEmitted })),
    };
  }

  private restoreSplit(state: unknown): NexmarkSplit {
    const r = state as { split?: unknown; of?: unknown; emitted?: unknown } | null;
    const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (r === null || typeof r !== 'object' || !int(r.split) || !int(r.of) || !int(r.emitted) || r.split >= r.of) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `restored Nexmark split ${JSON.stringify(state)} is malformed`);
    }
    const generator = new NexmarkGenerator(this.config, r.split, r.of);
    try {
      generator.seek(r.emitted);
    } catch (error) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `restored Nexmark split ${JSON.stringify(state)}: ${(error as Error).message}`);
    }
    return { split: r.split, of: r.of, generator };
  }
}
