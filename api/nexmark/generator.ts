/**
 * Deterministic Nexmark event generator, modelled on Flink's (github nexmark/nexmark) generator;
 * see shared design NEXMARK.md for the facts it reproduces.
 *
 * Global stream. The unsplit generator of a config produces the events at global positions
 * g = 0, 1, 2, … (g < maxEvents). The event at position g has
 *   - eventId = g + 1 (Flink: firstEventId 1, firstEventNumber 0), whose `eventId % 50` gives its
 *     type (0 → person, 1–3 → auction, 4–49 → bid) and from which all ids are derived;
 *   - event time timestamp(g) = baseTime + floor(floor(g * interEventDelayUs) / 1000) with
 *     interEventDelayUs = 1e6 / eventsPerSecond (Flink's GeneratorConfig.timestampForEvent);
 *   - every other field drawn from a small PRNG seeded with hash(seed, eventId), so each event is a
 *     pure function of (config, eventId) — as Flink seeds java.util.Random with the event id.
 * The global stream is Flink's stream of one generator at the total rate; its splits (below) are
 * slices of it rather than Flink's parallel timelines, so adding splits changes nothing but who
 * produces which event.
 *
 * Splits. Positions are dealt out in blocks of 50 (one proportion block: 1 person, 3 auctions,
 * 46 bids): split i of n owns blocks i, i + n, i + 2n, …, i.e. the global positions
 * b * 50 + r for b ≡ i (mod n), 0 ≤ r < 50, produced in increasing order. Hence
 *   - the splits of a config are disjoint and their union is exactly the unsplit stream;
 *   - maxEvents bounds the union (positions ≥ maxEvents are produced by nobody);
 *   - every split sees the 1 : 3 : 46 mix, and all splits advance through event time together
 *     (a split is never more than 50 · n events ahead of another), so watermarks stay aligned;
 *   - timestamps are monotonic (non-decreasing) within a split.
 *
 * Position. `eventsEmitted` counts the events this split has produced; `seek(k)` moves to any
 * position, after which the stream continues exactly as a fresh generator advanced by k events.
 *
 * Speed. No per-event closures or regexes; strings are slices of precomputed random pools
 * (`String#substring` of ≥ 13 chars is an O(1) sliced string in V8), names, credit-card groups,
 * channels and URLs come from (lazily filled) tables; prices from three small tables.
 */
import { AUCTION, BID, PERSON } from './model.js';
import type { Auction, Bid, NexmarkEvent, Person } from './model.js';

export interface NexmarkGeneratorConfig {
  /** PRNG seed (default 0). Any integer; events are a pure function of (seed, eventId). */
  seed?: number;
  /** Event-time rate: events per second of event time over all splits (default 10 000 000). */
  eventsPerSecond?: number;
  /** Event time of the first event, epoch ms (default 1 700 000 000 000). */
  baseTime?: number;
  /** Total number of events over all splits (default Infinity). */
  maxEvents?: number;
}

// ---- Constants of Flink's generator (NexmarkConfiguration defaults) ----
const TOTAL_PROPORTION = 50; // person 1 : auction 3 : bid 46
const PERSON_PROPORTION = 1;
const AUCTION_PROPORTION = 3;
const FIRST_PERSON_ID = 1000;
const FIRST_AUCTION_ID = 1000;
const FIRST_CATEGORY_ID = 10;
const NUM_CATEGORIES = 5;
const NUM_ACTIVE_PEOPLE = 1000;
const NUM_IN_FLIGHT_AUCTIONS = 100;
const PERSON_ID_LEAD = 10;
const AUCTION_ID_LEAD = 10;
/**
 * P(hot seller) = 1 - 1/HOT_SELLERS_RATIO = 3/4. (Bids: P(hot auction) = 1/2, P(hot bidder) = 3/4,
 * P(hot channel) = 1/2 — Flink's ratios 2, 4, 2 — taken from bits of one draw, see nextBid.)
 */
const HOT_SELLERS_RATIO = 4;
/** Hot entities are the first (second, for bidders) of the last batch of this many. */
const HOT_BATCH = 100;
const CHANNELS_NUMBER = 10_000;
const HOT_CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple'] as const;
const AVG_PERSON_BYTE_SIZE = 200;
const AVG_AUCTION_BYTE_SIZE = 500;
const AVG_BID_BYTE_SIZE = 100;
/** Events until NUM_IN_FLIGHT_AUCTIONS more auctions have been generated (the auction horizon). */
const NUM_EVENTS_FOR_AUCTIONS = Math.floor((NUM_IN_FLIGHT_AUCTIONS * TOTAL_PROPORTION) / AUCTION_PROPORTION);
const MIN_STRING_LENGTH = 3;
/** Flink's size accounting of a bid without `extra` (four 8-byte fields). */
const BID_BASE_SIZE = 8 + 8 + 8 + 8;
const BID_EXTRA_DELTA = Math.round((AVG_BID_BYTE_SIZE - BID_BASE_SIZE) * 0.2);
const BID_EXTRA_MIN = AVG_BID_BYTE_SIZE - BID_BASE_SIZE - BID_EXTRA_DELTA;
const BID_EXTRA_SPREAD = 2 * BID_EXTRA_DELTA;

const US_STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'] as const;
const US_CITIES = [
  'Phoenix', 'Los Angeles', 'San Francisco', 'Boise', 'Portland', 'Bend', 'Redmond', 'Seattle', 'Kent', 'Cheyenne',
] as const;
const FIRST_NAMES = ['Peter', 'Paul', 'Luke', 'John', 'Saul', 'Vicky', 'Kate', 'Julie', 'Sarah', 'Deiter', 'Walter'];
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris'];

const TWO_POW_32 = 4294967296;
const INV_TWO_POW_32 = 1 / TWO_POW_32;

/*
 * V8 hidden-class priming. Object literals with the same keys in the same order share hidden
 * classes (maps). If a user builds `{ type, auction, bidder, price: price * 0.908, … }` (Nexmark
 * q1) after bids were created with a small-integer `price`, V8 generalises the field
 * representation and deprecates the bid map; the generator's literal then keeps producing objects
 * of the deprecated map, every property access on them misses its inline cache, and code reading
 * events runs ~10× slower and never gets optimised (measured). Creating one object of each event
 * shape first with `null` in every field makes all fields "tagged", the most general
 * representation, so no later literal can deprecate these maps. Kept referenced: transitions to
 * maps are weak.
 */
const _MAP_PRIMERS: readonly object[] = ((x: null) => [
  { type: x, id: x, name: x, emailAddress: x, creditCard: x, city: x, state: x, dateTime: x, extra: x },
  {
    type: x, id: x, itemName: x, description: x, initialBid: x, reserve: x, dateTime: x, expires: x, seller: x,
    category: x, extra: x,
  },
  { type: x, auction: x, bidder: x, price: x, channel: x, url: x, dateTime: x, extra: x },
])(null);

// ---- Precomputed tables (seed-independent, built once per process) ----

/** Slices of the random-letter pools start at `u32 & POOL_MASK`… */
const POOL_MASK = (1 << 20) - 1;
/** …and are at most this long (the pools are POOL_MASK + 1 + MAX_SLICE long). */
const MAX_SLICE = 1024;
const POOL_LENGTH = POOL_MASK + 1 + MAX_SLICE;

interface Tables {
  /** Random lowercase letters (for `extra`, like Flink's nextExactString). */
  letters: string;
  /** Random lowercase letters with a space at probability 1/13 (Flink's nextString). */
  spaced: string;
  /** "First Last" for every first × last name pair. */
  names: string[];
  /** URLs of the hot channels. */
  hotUrls: string[];
  /** "channel-<i>" and its URL, filled in lazily (each a pure function of i). */
  channels: (string | undefined)[];
  channelUrls: (string | undefined)[];
  /**
   * 10^(6u) for u = u32 / 2^32 is priceHi[u >>> 21] * priceMid[(u >>> 10) & 2047] *
   * priceLo[u & 1023] (three small tables instead of a slow Math.pow per event).
   */
  priceHi: Float64Array;
  priceMid: Float64Array;
  priceLo: Float64Array;
}

let tables: Tables | undefined;

/** murmur3 fmix32 finaliser: a bijection on 32-bit integers with good avalanche. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** Java's Integer.reverse. */
function reverseBits32(x: number): number {
  x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1);
  x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2);
  x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
  x = ((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8);
  return ((x >>> 16) | (x << 16)) | 0;
}

/**
 * Flink's BidGenerator base URL: https://www.nexmark.com/<a>/<b>/<c>/item.htm?query=1 where each
 * part is nextString(random, 5, '_') (3 or 4 letters, '_' at probability 1/13); a pure function of
 * `key`.
 */
function baseUrl(spaced: string, key: number): string {
  const h = fmix32(key ^ 0x55524c53);
  let url = 'https://www.nexmark.com/';
  for (let k = 1; k <= 3; k++) {
    const v = fmix32(h + k) >>> 0;
    const start = v & POOL_MASK;
    url += `${spaced.substring(start, start + MIN_STRING_LENGTH + (v >>> 31)).replaceAll(' ', '_')}/`;
  }
  return `${url}item.htm?query=1`;
}

/** Channel `i` (not hot) and its URL, as Flink's getNextChannelAndurl: 9 in 10 carry a channel_id. */
function buildChannel(t: Tables, i: number): void {
  let url = baseUrl(t.spaced, i);
  if ((fmix32(i ^ 0x4348414e) >>> 0) % 10 > 0) url += `&channel_id=${Math.abs(reverseBits32(i))}`;
  t.channelUrls[i] = url;
  t.channels[i] = `channel-${i}`;
}

function buildTables(): Tables {
  // Pools: position i is a pure hash of i.
  const letterBytes = Buffer.allocUnsafe(POOL_LENGTH);
  const spacedBytes = Buffer.allocUnsafe(POOL_LENGTH);
  for (let i = 0; i < POOL_LENGTH; i++) {
    const v = fmix32(i ^ 0x4e584d4b);
    letterBytes[i] = 97 + ((v & 0x3fffffff) % 26); // (30-bit values stay small integers)
    const w = v >>> 8; // 24 other bits for the spaced pool
    spacedBytes[i] = w % 13 === 0 ? 32 : 97 + ((w >>> 4) % 26);
  }
  const spaced = spacedBytes.toString('latin1');

  const names: string[] = [];
  for (const first of FIRST_NAMES) for (const last of LAST_NAMES) names.push(`${first} ${last}`);
  const hotUrls = HOT_CHANNELS.map((_, i) => baseUrl(spaced, CHANNELS_NUMBER + i));
  const priceHi = new Float64Array(2048);
  const priceMid = new Float64Array(2048);
  const priceLo = new Float64Array(1024);
  for (let i = 0; i < 2048; i++) priceHi[i] = Math.pow(10, (6 * i * 2 ** 21) / TWO_POW_32);
  for (let i = 0; i < 2048; i++) priceMid[i] = Math.pow(10, (6 * i * 2 ** 10) / TWO_POW_32);
  for (let i = 0; i < 1024; i++) priceLo[i] = Math.pow(10, (6 * i) / TWO_POW_32);
  return {
    letters: letterBytes.toString('latin1'),
    spaced,
    names,
    hotUrls,
    channels: new Array<string | undefined>(CHANNELS_NUMBER).fill(undefined),
    channelUrls: new Array<string | undefined>(CHANNELS_NUMBER).fill(undefined),
    priceHi,
    priceMid,
    priceLo,
  };
}

function getTables(): Tables {
  return (tables ??= buildTables());
}

/** "0042" for 42 (0 ≤ n < 10000). */
function pad4(n: number): string {
  return n < 10 ? `000${n}` : n < 100 ? `00${n}` : n < 1000 ? `0${n}` : `${n}`;
}

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`NexmarkGenerator: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
}

export class NexmarkGenerator {
  private readonly splitIndex: number;
  private readonly splitCount: number;
  private readonly baseTime: number;
  private readonly interEventDelayUs: number;
  private readonly seedMix: number;
  /** Events this split will produce in total (Infinity when unbounded). */
  private readonly localMax: number;
  private readonly tables: Tables;
  private readonly letters: string;
  private readonly spaced: string;
  private readonly hotUrls: string[];
  private readonly channels: (string | undefined)[];
  private readonly channelUrls: (string | undefined)[];
  private readonly priceHi: Float64Array;
  private readonly priceMid: Float64Array;
  private readonly priceLo: Float64Array;

  /** Events produced so far by this split. */
  private emitted = 0;
  /** Global block (of 50 positions) the next event is in. */
  private block: number;
  /** Index of the next event within its block, 0..49. */
  private inBlock = 0;
  /** Per-event PRNG state (mulberry32). */
  private s = 0;

  constructor(config: NexmarkGeneratorConfig = {}, splitIndex = 0, splitCount = 1) {
    const seed = config.seed ?? 0;
    const rate = config.eventsPerSecond ?? 10_000_000;
    const baseTime = config.baseTime ?? 1_700_000_000_000;
    const maxEvents = config.maxEvents ?? Infinity;
    checkInteger('seed', Math.abs(seed), 0);
    if (!(rate > 0) || !Number.isFinite(rate)) {
      throw new RangeError(`NexmarkGenerator: eventsPerSecond must be a positive finite number, got ${rate}`);
    }
    checkInteger('baseTime', baseTime, 0);
    if (maxEvents !== Infinity) checkInteger('maxEvents', maxEvents, 0);
    checkInteger('splitCount', splitCount, 1);
    checkInteger('splitIndex', splitIndex, 0);
    if (splitIndex >= splitCount) {
      throw new RangeError(`NexmarkGenerator: splitIndex ${splitIndex} out of range for splitCount ${splitCount}`);
    }

    this.splitIndex = splitIndex;
    this.splitCount = splitCount;
    this.baseTime = baseTime;
    this.interEventDelayUs = 1e6 / rate;
    const seedLo = seed >>> 0;
    const seedHi = Math.floor(seed / TWO_POW_32) >>> 0;
    this.seedMix = fmix32(seedLo ^ fmix32(seedHi ^ 0x2545f491));
    this.block = splitIndex;

    if (maxEvents === Infinity) {
      this.localMax = Infinity;
    } else {
      const fullBlocks = Math.floor(maxEvents / TOTAL_PROPORTION);
      const rest = maxEvents - fullBlocks * TOTAL_PROPORTION;
      const myFullBlocks = fullBlocks > splitIndex ? Math.ceil((fullBlocks - splitIndex) / splitCount) : 0;
      this.localMax = myFullBlocks * TOTAL_PROPORTION + (fullBlocks % splitCount === splitIndex ? rest : 0);
    }

    const t = getTables();
    this.tables = t;
    this.letters = t.letters;
    this.spaced = t.spaced;
    this.hotUrls = t.hotUrls;
    this.channels = t.channels;
    this.channelUrls = t.channelUrls;
    this.priceHi = t.priceHi;
    this.priceMid = t.priceMid;
    this.priceLo = t.priceLo;
  }

  /** Events produced so far by this split: a position for checkpoint / {@link seek}. */
  get eventsEmitted(): number {
    return this.emitted;
  }

  hasNext(): boolean {
    return this.emitted < this.localMax;
  }

  /** Move to position `eventsEmitted` (0 ≤ it ≤ the split's total); next() continues from there. */
  seek(eventsEmitted: number): void {
    checkInteger('seek position', eventsEmitted, 0);
    if (eventsEmitted > this.localMax) {
      throw new RangeError(`NexmarkGenerator: seek(${eventsEmitted}) beyond the split's ${this.localMax} events`);
    }
    const localBlock = Math.floor(eventsEmitted / TOTAL_PROPORTION);
    this.emitted = eventsEmitted;
    this.inBlock = eventsEmitted - localBlock * TOTAL_PROPORTION;
    this.block = this.splitIndex + localBlock * this.splitCount;
  }

  next(): NexmarkEvent {
    if (this.emitted >= this.localMax) throw new Error('NexmarkGenerator: no more events');
    const block = this.block;
    const r = this.inBlock;
    const g = block * TOTAL_PROPORTION + r; // global position
    // eventId = g + 1; its epoch (eventId / 50) and offset (eventId % 50):
    let epoch: number;
    let offset: number;
    this.emitted++;
    if (r === TOTAL_PROPORTION - 1) {
      epoch = block + 1;
      offset = 0;
      this.inBlock = 0;
      this.block = block + this.splitCount;
    } else {
      epoch = block;
      offset = r + 1;
      this.inBlock = offset;
    }

    // Seed the per-event PRNG from (seed, eventId); the hash itself is the first draw.
    const eventId = g + 1;
    let h = fmix32((eventId >>> 0) ^ this.seedMix);
    if (eventId >= TWO_POW_32) h = fmix32(h ^ Math.imul(Math.floor(eventId / TWO_POW_32), 0x9e3779b1));

    const dateTime = this.timestamp(g);
    if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) return this.nextBid(epoch, dateTime, h >>> 0);
    this.s = h;
    if (offset === 0) return this.nextPerson(epoch, dateTime);
    return this.nextAuction(epoch, offset, g, dateTime);
  }

  // ---- internals ----

  private timestamp(g: number): number {
    return this.baseTime + Math.floor(Math.floor(g * this.interEventDelayUs) / 1000);
  }

  /** Next 32-bit unsigned output of the per-event mulberry32 stream. */
  private u32(): number {
    const s = (this.s + 0x6d2b79f5) | 0;
    this.s = s;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n) (n ≤ 2^32; granularity 2^-32). */
  private int(n: number): number {
    return Math.floor(this.u32() * INV_TWO_POW_32 * n);
  }

  /** Flink's PriceGenerator: round(10^(6u) * 100), u uniform in [0, 1) (u = u32 / 2^32). */
  private price(): number {
    const u = this.u32();
    return Math.round(this.priceHi[u >>> 21]! * this.priceMid[(u >>> 10) & 2047]! * this.priceLo[u & 1023]! * 100);
  }

  /** Flink's nextBase0PersonId for an event of the given epoch (lastBase0PersonId = epoch). */
  private nextBase0PersonId(epoch: number): number {
    const numPeople = epoch + 1;
    const active = numPeople < NUM_ACTIVE_PEOPLE ? numPeople : NUM_ACTIVE_PEOPLE;
    return numPeople - active + this.int(active + PERSON_ID_LEAD);
  }

  /** Flink's nextString: 3..maxLength-1 random letters/spaces, trimmed. */
  private nextString(maxLength: number): string {
    const len = MIN_STRING_LENGTH + this.int(maxLength - MIN_STRING_LENGTH);
    const start = this.u32() & POOL_MASK;
    const s = this.spaced.substring(start, start + len);
    return s.charCodeAt(0) === 32 || s.charCodeAt(len - 1) === 32 ? s.trim() : s;
  }

  /** Flink's nextExtra: letters so that currentSize + length averages desiredAverageSize. */
  private nextExtra(currentSize: number, desiredAverageSize: number): string {
    if (currentSize > desiredAverageSize) return '';
    const want = desiredAverageSize - currentSize;
    const delta = Math.round(want * 0.2);
    const size = want - delta + (delta === 0 ? 0 : this.int(2 * delta));
    const start = this.u32() & POOL_MASK;
    return this.letters.substring(start, start + size);
  }

  private nextPerson(epoch: number, dateTime: number): Person {
    const t = this.tables;
    const name = t.names[this.int(t.names.length)]!;
    const emailAddress = `${this.nextString(7)}@${this.nextString(5)}.com`;
    const creditCard =
      `${pad4(this.int(10_000))} ${pad4(this.int(10_000))} ${pad4(this.int(10_000))} ${pad4(this.int(10_000))}`;
    const city = US_CITIES[this.int(US_CITIES.length)]!;
    const state = US_STATES[this.int(US_STATES.length)]!;
    const size = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length;
    return {
      type: PERSON,
      id: epoch + FIRST_PERSON_ID, // lastBase0PersonId of a person event is its epoch
      name,
      emailAddress,
      creditCard,
      city,
      state,
      dateTime,
      extra: this.nextExtra(size, AVG_PERSON_BYTE_SIZE),
    };
  }

  private nextAuction(epoch: number, offset: number, g: number, dateTime: number): Auction {
    // lastBase0AuctionId of an auction event: epoch * 3 + (offset - 1).
    const id = epoch * AUCTION_PROPORTION + offset - PERSON_PROPORTION + FIRST_AUCTION_ID;
    const seller =
      (this.int(HOT_SELLERS_RATIO) > 0
        ? Math.floor(epoch / HOT_BATCH) * HOT_BATCH
        : this.nextBase0PersonId(epoch)) + FIRST_PERSON_ID;
    const category = FIRST_CATEGORY_ID + this.int(NUM_CATEGORIES);
    const initialBid = this.price();
    const horizonMs = this.timestamp(g + NUM_EVENTS_FOR_AUCTIONS) - dateTime;
    const expires = dateTime + 1 + this.int(horizonMs * 2 > 1 ? horizonMs * 2 : 1);
    const itemName = this.nextString(20);
    const description = this.nextString(100);
    const reserve = initialBid + this.price();
    const size = 8 + itemName.length + description.length + 8 + 8 + 8 + 8 + 8;
    return {
      type: AUCTION,
      id,
      itemName,
      description,
      initialBid,
      reserve,
      dateTime,
      expires,
      seller,
      category,
      extra: this.nextExtra(size, AVG_AUCTION_BYTE_SIZE),
    };
  }

  /**
   * A bid. Its draws are a counter-hash chain from the event's hash r0 (kept out of the generic
   * PRNG so the hot path inlines): r0's bit 0 → hot auction (P 1/2), bits 1–2 → hot bidder
   * (P 3/4), bit 3 → hot channel (P 1/2), bits 4–5 → which hot channel, bits 6–31 → the extra's
   * length; r1 → price; r2 → the extra's start; further hashes of r2 → the non-hot choices.
   */
  private nextBid(epoch: number, dateTime: number, r0: number): Bid {
    const r1 = fmix32(r0 + 0x6d2b79f5) >>> 0;
    const r2 = fmix32(r1 + 0x6d2b79f5);
    // For a bid slot lastBase0AuctionId = epoch * 3 + 2 and lastBase0PersonId = epoch.
    const lastAuction = epoch * AUCTION_PROPORTION + AUCTION_PROPORTION - 1;
    let auction: number;
    if ((r0 & 1) !== 0) {
      auction = Math.floor(lastAuction / HOT_BATCH) * HOT_BATCH;
    } else {
      // Flink's nextBase0AuctionId: one of the last 100 auctions or the 10 next ones.
      const min = lastAuction > NUM_IN_FLIGHT_AUCTIONS ? lastAuction - NUM_IN_FLIGHT_AUCTIONS : 0;
      const range = lastAuction - min + 1 + AUCTION_ID_LEAD;
      auction = min + Math.floor((fmix32(r2 ^ 0x41554354) >>> 0) * INV_TWO_POW_32 * range);
    }
    let bidder: number;
    if ((r0 & 6) !== 0) {
      bidder = Math.floor(epoch / HOT_BATCH) * HOT_BATCH + 1;
    } else {
      // Flink's nextBase0PersonId: one of the last 1000 people or the 10 next ones.
      const numPeople = epoch + 1;
      const active = numPeople < NUM_ACTIVE_PEOPLE ? numPeople : NUM_ACTIVE_PEOPLE;
      bidder = numPeople - active + Math.floor((fmix32(r2 ^ 0x42494452) >>> 0) * INV_TWO_POW_32 * (active + PERSON_ID_LEAD));
    }
    const price = Math.round(
      this.priceHi[r1 >>> 21]! * this.priceMid[(r1 >>> 10) & 2047]! * this.priceLo[r1 & 1023]! * 100,
    );
    let channel: string;
    let url: string;
    if ((r0 & 8) !== 0) {
      const i = (r0 >>> 4) & 3;
      channel = HOT_CHANNELS[i]!;
      url = this.hotUrls[i]!;
    } else {
      const i = Math.floor((fmix32(r2 ^ 0x4348414e) >>> 0) * INV_TWO_POW_32 * CHANNELS_NUMBER);
      if (this.channels[i] === undefined) buildChannel(this.tables, i);
      channel = this.channels[i]!;
      url = this.channelUrls[i]!;
    }
    // Flink's nextExtra(32, 100): 68 ± 14 letters, i.e. 54 + [0, 28).
    const start = r2 & POOL_MASK;
    const extra = this.letters.substring(start, start + BID_EXTRA_MIN + ((r0 >>> 6) % BID_EXTRA_SPREAD));
    return {
      type: BID,
      auction: auction + FIRST_AUCTION_ID,
      // Flink adds FIRST_PERSON_ID to the bidder twice: bidders are offset by 2000.
      bidder: bidder + 2 * FIRST_PERSON_ID,
      price,
      channel,
      url,
      dateTime,
      extra,
    };
  }
}
