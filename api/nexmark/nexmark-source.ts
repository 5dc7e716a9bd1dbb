/** The Nexmark generator as a parallel source: subtask i of p reads split i of p. */
import type { Collector } from '../datastream/functions.js';
import type { PollResult, Source, SourceContext, SourceReader } from '../datastream/source.js';
import { NexmarkGenerator, type NexmarkGeneratorConfig } from './generator.js';
import type { NexmarkEvent } from './model.js';

export class NexmarkSource implements Source<NexmarkEvent> {
  constructor(private readonly config: NexmarkGeneratorConfig = {}) {
    new NexmarkGenerator(config); // validates the configuration where the job is built
  }

  createReader(ctx: SourceContext): SourceReader<NexmarkEvent> {
    const g = new NexmarkGenerator(this.config, ctx.subtaskIndex, ctx.parallelism);
    return {
      pollNext(out: Collector<NexmarkEvent>, max: number): PollResult {
        for (let i = 0; i < max && g.hasNext(); i++) out.collect(g.next());
        return g.hasNext() ? 'more' : 'end';
      },
    };
  }
}
