/** Nexmark q0–q2 on the DataStream API (see ../shared/design/NEXMARK.md). */
import type { DataStream } from '../datastream/data-stream.js';
import type { StreamExecutionEnvironment } from '../datastream/environment.js';
import { BID, type Bid, type NexmarkEvent } from './model.js';
import { NexmarkSource } from './nexmark-source.js';
import type { NexmarkGeneratorConfig } from './generator.js';

export interface AuctionPrice {
  auction: number;
  price: number;
}

export function nexmarkEvents(env: StreamExecutionEnvironment, config: NexmarkGeneratorConfig = {}): DataStream<NexmarkEvent> {
  return env.fromSource(new NexmarkSource(config), 'Nexmark Source').uid('nexmark-source');
}

export function bids(events: DataStream<NexmarkEvent>): DataStream<Bid> {
  return events.filter((e) => e.type === BID, 'Bids') as DataStream<unknown> as DataStream<Bid>;
}

/** q1's per-record logic: the bid with its price converted to euros. */
export function toCurrency(b: Bid): Bid {
  return {
    type: b.type,
    auction: b.auction,
    bidder: b.bidder,
    price: b.price * 0.908,
    channel: b.channel,
    url: b.url,
    dateTime: b.dateTime,
    extra: b.extra,
  };
}

/** q2's selection predicate. */
export function isQ2Auction(b: Bid): boolean {
  return b.auction % 123 === 0;
}

/** q2's projection. */
export function toAuctionPrice(b: Bid): AuctionPrice {
  return { auction: b.auction, price: b.price };
}

/** q0 pass-through: every bid. */
export function q0(events: DataStream<NexmarkEvent>): DataStream<Bid> {
  return bids(events);
}

/** q1 currency conversion: every bid with price × 0.908. */
export function q1(events: DataStream<NexmarkEvent>): DataStream<Bid> {
  return bids(events).map(toCurrency, 'Currency');
}

/** q2 selection: (auction, price) of bids on auctions whose id is divisible by 123. */
export function q2(events: DataStream<NexmarkEvent>): DataStream<AuctionPrice> {
  return bids(events).filter(isQ2Auction, 'Auction % 123').map(toAuctionPrice, 'Project');
}
