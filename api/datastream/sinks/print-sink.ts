/** Prints each record as a line on stdout; with parallelism > 1 prefixed by `subtask>` as Flink does. */
import type { Sink, SinkContext, SinkWriter } from '../sink.js';

export class PrintSink<T> implements Sink<T> {
  constructor(
    private readonly prefix?: string,
    private readonly out: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {}
  createWriter(ctx: SinkContext): SinkWriter<T> {
    const tag = [this.prefix, ctx.parallelism > 1 ? `${ctx.subtaskIndex + 1}` : undefined].filter((x) => x !== undefined).join(':');
    const lead = tag.length > 0 ? `${tag}> ` : '';
    const out = this.out;
    return {
      write(value: T): void {
        out(lead + (typeof value === 'string' ? value : stringify(value)));
      },
    };
  }
}

function stringify(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
}
