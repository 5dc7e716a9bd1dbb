/**
 * Reference throughputs for Nexmark q0–q2 without any engine: the same query logic run in a plain
 * single-threaded loop over the generator, and in a Node `stream.pipeline` (object mode). The
 * engine's benchmarks are read against these.
 *
 * Throughput is counted over all source events (as Nexmark does), including the persons and
 * auctions a bid-only query drops.
 */
import { Readable, Transform, Writable } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NexmarkGenerator } from '../api/nexmark/generator.js';
import { BID } from '../api/nexmark/model.js';
import type { Bid, NexmarkEvent } from '../api/nexmark/model.js';
import { isQ2Auction, toAuctionPrice, toCurrency, type AuctionPrice } from '../api/nexmark/queries.js';

export type QueryName = 'q0' | 'q1' | 'q2';

export interface BaselineResult {
  /** Source events generated. */
  events: number;
  /** Records that reached the sink. */
  outputs: number;
  seconds: number;
  /** events / seconds. */
  eventsPerSecond: number;
}

// ---- Blackhole sinks: fold a field into a global so the work cannot be optimised away ----

/** One typed-array slot: adding to it never allocates nor changes representation (no deopts). */
const blackhole = new Float64Array(1);

function sinkBid(b: Bid): void {
  blackhole[0]! += b.price;
}
function sinkCurrency(b: Bid): void {
  blackhole[0]! += b.price;
}
function sinkAuctionPrice(r: AuctionPrice): void {
  blackhole[0]! += r.price;
}
function sinkEvent(e: NexmarkEvent): void {
  blackhole[0]! += e.type;
}

/** The value the blackhole sinks accumulated (print it to keep the sinks observable). */
export function blackholeValue(): number {
  return blackhole[0]!;
}

function result(events: number, outputs: number, start: bigint): BaselineResult {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { events, outputs, seconds, eventsPerSecond: events / seconds };
}

/*
 * The loops run in chunks of CHUNK events, one function call per chunk: V8 only tiers a function
 * up once it has been called a few times (a feedback vector is allocated lazily), and on-stack
 * replacement of a single long-running call proved unreliable — one call running 5 M events could
 * stay in the interpreter throughout, at a tenth of the speed.
 */
const CHUNK = 10_000;

// One loop function per query, so that each keeps its own type feedback.

function loopGenerator(g: NexmarkGenerator): void {
  for (let i = 0; i < CHUNK && g.hasNext(); i++) sinkEvent(g.next());
}

function loopQ0(g: NexmarkGenerator): number {
  let outputs = 0;
  for (let i = 0; i < CHUNK && g.hasNext(); i++) {
    const e = g.next();
    if (e.type === BID) {
      sinkBid(e);
      outputs++;
    }
  }
  return outputs;
}

function loopQ1(g: NexmarkGenerator): number {
  let outputs = 0;
  for (let i = 0; i < CHUNK && g.hasNext(); i++) {
    const e = g.next();
    if (e.type === BID) {
      sinkCurrency(toCurrency(e));
      outputs++;
    }
  }
  return outputs;
}

function loopQ2(g: NexmarkGenerator): number {
  let outputs = 0;
  for (let i = 0; i < CHUNK && g.hasNext(); i++) {
    const e = g.next();
    if (e.type === BID && isQ2Auction(e)) {
      sinkAuctionPrice(toAuctionPrice(e));
      outputs++;
    }
  }
  return outputs;
}

/** The raw generator: `while (g.hasNext()) sink(g.next())`. */
export function generatorBaseline(events: number, seed = 0): BaselineResult {
  const g = new NexmarkGenerator({ seed, maxEvents: events });
  const start = process.hrtime.bigint();
  while (g.hasNext()) loopGenerator(g);
  return result(events, events, start);
}

/** Generate `events` events and run the query in a plain single-threaded loop. */
export function forLoopBaseline(query: QueryName, events: number, seed = 0): BaselineResult {
  const g = new NexmarkGenerator({ seed, maxEvents: events });
  const loop = query === 'q0' ? loopQ0 : query === 'q1' ? loopQ1 : loopQ2;
  let outputs = 0;
  const start = process.hrtime.bigint();
  while (g.hasNext()) outputs += loop(g);
  return result(events, outputs, start);
}

/**
 * Generate `events` events through Node's object-mode stream.pipeline: a Readable pushing
 * generator events, a Transform doing the query, a Writable blackhole. Default highWaterMarks.
 */
export async function pipelineBaseline(query: QueryName, events: number, seed = 0): Promise<BaselineResult> {
  const g = new NexmarkGenerator({ seed, maxEvents: events });
  let outputs = 0;

  const source = new Readable({
    objectMode: true,
    read(this: Readable): void {
      while (g.hasNext()) {
        if (!this.push(g.next())) return;
      }
      this.push(null);
    },
  });

  let transform: Transform;
  let sink: Writable;
  switch (query) {
    case 'q0':
      transform = new Transform({
        objectMode: true,
        transform(e: NexmarkEvent, _encoding: BufferEncoding, callback: TransformCallback): void {
          if (e.type === BID) callback(null, e);
          else callback();
        },
      });
      sink = new Writable({
        objectMode: true,
        write(b: Bid, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
          sinkBid(b);
          outputs++;
          callback();
        },
      });
      break;
    case 'q1':
      transform = new Transform({
        objectMode: true,
        transform(e: NexmarkEvent, _encoding: BufferEncoding, callback: TransformCallback): void {
          if (e.type === BID) callback(null, toCurrency(e));
          else callback();
        },
      });
      sink = new Writable({
        objectMode: true,
        write(b: Bid, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
          sinkCurrency(b);
          outputs++;
          callback();
        },
      });
      break;
    case 'q2':
      transform = new Transform({
        objectMode: true,
        transform(e: NexmarkEvent, _encoding: BufferEncoding, callback: TransformCallback): void {
          if (e.type === BID && isQ2Auction(e)) callback(null, toAuctionPrice(e));
          else callback();
        },
      });
      sink = new Writable({
        objectMode: true,
        write(r: AuctionPrice, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
          sinkAuctionPrice(r);
          outputs++;
          callback();
        },
      });
      break;
  }

  const start = process.hrtime.bigint();
  await pipeline(source, transform, sink);
  return result(events, outputs, start);
}
