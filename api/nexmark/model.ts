/**
 * Nexmark event model (see shared design NEXMARK.md).
 *
 * Events are flat plain objects with a numeric discriminant `type` (0 = person, 1 = auction,
 * 2 = bid) rather than a wrapper object, so that a source can hand them downstream without an
 * extra allocation and operators can switch on a small integer. Ids and prices are integers
 * (exact in a JS number up to 2^53); all times are epoch milliseconds.
 */

/** Discriminant of a {@link Person} event. */
export const PERSON = 0;
/** Discriminant of an {@link Auction} event. */
export const AUCTION = 1;
/** Discriminant of a {@link Bid} event. */
export const BID = 2;

export type EventType = typeof PERSON | typeof AUCTION | typeof BID;

/** A new person registering (2 % of the stream). */
export interface Person {
  type: 0;
  /** Person id (first person id is 1000). */
  id: number;
  name: string;
  emailAddress: string;
  creditCard: string;
  city: string;
  state: string;
  /** Event time, epoch ms. */
  dateTime: number;
  /** Padding towards an average person size of 200 bytes. */
  extra: string;
}

/** A new auction being opened (6 % of the stream). */
export interface Auction {
  type: 1;
  /** Auction id (first auction id is 1000). */
  id: number;
  itemName: string;
  description: string;
  initialBid: number;
  reserve: number;
  /** Event time, epoch ms. */
  dateTime: number;
  /** End of the auction, epoch ms (> dateTime). */
  expires: number;
  /** Person id of the seller. */
  seller: number;
  /** Category, 10..14. */
  category: number;
  /** Padding towards an average auction size of 500 bytes. */
  extra: string;
}

/** A bid on an auction (92 % of the stream). */
export interface Bid {
  type: 2;
  /** Auction id the bid is for. */
  auction: number;
  /** Person id of the bidder (offset by 2000, as in Flink's generator). */
  bidder: number;
  /** Price in cents. */
  price: number;
  channel: string;
  url: string;
  /** Event time, epoch ms. */
  dateTime: number;
  /** Padding towards an average bid size of 100 bytes. */
  extra: string;
}

export type NexmarkEvent = Person | Auction | Bid;
