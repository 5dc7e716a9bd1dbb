/**
 * The keyed benchmarks' reference: Nexmark q1 (bids, price × 0.908 through the shared
 * `toCurrency`) and a running count per auction in a Map, as a plain single-threaded loop over
 * the generator. Chunked like the loops of nexmark-baselines.ts (one call per CHUNK events, so V8
 * tiers the loop up instead of leaving one long call in the interpreter).
 *
 * Throughput counts all source events, including the persons and auctions q1 drops.
 */
import { NexmarkGenerator } from '../api/nexmark/generator.js';
import { BID } from '../api/nexmark/model.js';
import { toCurrency } from '../api/nexmark/queries.js';
import type { BaselineResult } from './nexmark-baselines.js';

const CHUNK = 10_000;

/** Folds every running count, so the loop's work cannot be optimised away. */
const blackhole = new Float64Array(1);

function loopKeyedCount(g: NexmarkGenerator, counts: Map<number, number>): number {
  let outputs = 0;
  for (let i = 0; i < CHUNK && g.hasNext(); i++) {
    const e = g.next();
    if (e.type !== BID) continue;
    const bid = toCurrency(e);
    const n = (counts.get(bid.auction) ?? 0) + 1;
    counts.set(bid.auction, n);
    blackhole[0]! += n;
    outputs++;
  }
  return outputs;
}

/** q1 → count per auction in a Map, `events` source events, one thread. */
export function keyedForLoopBaseline(events: number, seed = 0): BaselineResult & { keys: number } {
  const g = new NexmarkGenerator({ seed, maxEvents: events });
  const counts = new Map<number, number>();
  let outputs = 0;
  const start = process.hrtime.bigint();
  while (g.hasNext()) outputs += loopKeyedCount(g, counts);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { events, outputs, seconds, eventsPerSecond: events / seconds, keys: counts.size };
}

export function keyedBlackholeValue(): number {
  return blackhole[0]!;
}
