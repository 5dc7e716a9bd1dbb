/**
 * Prints the Nexmark baselines: `node dist/bench/nexmark-baselines-main.js [events]`
 * (default 5 000 000 events): the raw generator, q0–q2 in a plain loop, q0–q2 through
 * Node's object-mode stream.pipeline.
 */
import {
  blackholeValue,
  forLoopBaseline,
  generatorBaseline,
  pipelineBaseline,
} from './nexmark-baselines.js';
import type { BaselineResult, QueryName } from './nexmark-baselines.js';

const QUERIES: QueryName[] = ['q0', 'q1', 'q2'];

function parseEvents(arg: string | undefined): number {
  if (arg === undefined) return 5_000_000;
  const n = Number(arg.replaceAll('_', ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`events must be a positive integer, got ${arg}`);
  return n;
}

function line(label: string, r: BaselineResult): void {
  const rate = `${(r.eventsPerSecond / 1e6).toFixed(3)} M events/s`;
  console.log(
    `${label.padEnd(14)} ${rate.padStart(20)}   (${r.events} events, ${r.outputs} outputs, ${r.seconds.toFixed(3)} s)`,
  );
}

async function main(): Promise<void> {
  const events = parseEvents(process.argv[2]);
  const warmup = Math.min(events, 200_000);

  // Warm the JIT on every path first, so that the first measurement is not penalised.
  generatorBaseline(warmup);
  for (const q of QUERIES) forLoopBaseline(q, warmup);
  for (const q of QUERIES) await pipelineBaseline(q, warmup);

  console.log(`Nexmark baselines, ${events} events, node ${process.version}`);
  line('generator', generatorBaseline(events));
  for (const q of QUERIES) line(`for-loop ${q}`, forLoopBaseline(q, events));
  for (const q of QUERIES) line(`pipeline ${q}`, await pipelineBaseline(q, events));
  console.log(`(blackhole ${blackholeValue()})`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
