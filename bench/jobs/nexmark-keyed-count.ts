/**
 * Nexmark q1 → keyBy(auction) → running count per auction in ValueState → discard: the job of
 * `npm run bench -- distributed-keyed` (the same pipeline as the embedded `keyed` bench).
 * args: [events = 5000000].
 */
import { DiscardingSink, nexmark, type KeyedProcessFunction, type StreamExecutionEnvironment } from 'troupe';

type Bid = nexmark.Bid;

const countPerAuction: KeyedProcessFunction<number, Bid, [number, number]> = {
  processElement(bid, ctx, out) {
    const state = ctx.runtime.getState<number>({ name: 'count', defaultValue: 0 });
    const n = (state.value() ?? 0) + 1;
    state.update(n);
    out.collect([bid.auction, n]);
  },
};

export default function nexmarkKeyedCount(env: StreamExecutionEnvironment, args: string[]): void {
  const events = Number(args[0] ?? '5000000');
  if (!Number.isSafeInteger(events) || events < 1) throw new Error(`events must be a positive integer, got ${args[0]}`);
  nexmark
    .q1(nexmark.nexmarkEvents(env, { maxEvents: events }))
    .keyBy((b) => b.auction)
    .process(countPerAuction, 'Count')
    .uid('count')
    .sinkTo(new DiscardingSink(), 'Discard')
    .uid('discard');
}
