/**
 * Receiver-side credit accounting for one input gate (Flink 1.5 RemoteInputChannel + the gate's
 * floating LocalBufferPool). Pure: no actor, no timers. Buffers here are slots; in-process
 * channels hand records over by reference, so a slot bounds memory without holding bytes.
 *
 * Invariants (tests cite them):
 *  1. For every channel: credit announced − buffers received = free slots of the channel ≥ 0.
 *     A buffer that arrives without a free slot is a protocol violation, never silently queued.
 *  2. Each channel owns `exclusive` slots for its whole life; the gate owns `floating` slots that
 *     channels borrow while their sender announces backlog, and give back when they have more
 *     free slots than they need.
 *  3. Floating slots are never lost: pool + held by channels = floating, at all times.
 *  4. A channel waiting for a floating slot gets the next one recycled, in FIFO order.
 */
import { TroupeError } from '../../core/errors.js';

const EXCLUSIVE = 0;
const FLOATING = 1;
type SlotKind = typeof EXCLUSIVE | typeof FLOATING;

interface ChannelCredits {
  required: number;
  freeExclusive: number;
  freeFloating: number;
  /** Kinds of the slots holding received, not yet recycled buffers (FIFO). */
  readonly used: SlotKind[];
  unannounced: number;
  waiting: boolean;
}

export class InputGateCredits {
  private readonly channels: ChannelCredits[];
  private poolFree: number;
  private readonly waiters: number[] = [];
  private readonly dirty = new Set<number>();

  constructor(
    numChannels: number,
    private readonly exclusive: number,
    private readonly floating: number,
  ) {
    if (exclusive < 1) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'exclusive credits per channel must be at least 1');
    this.poolFree = floating;
    this.channels = [];
    for (let i = 0; i < numChannels; i++) {
      this.channels.push({ required: exclusive, freeExclusive: exclusive, freeFloating: 0, used: [], unannounced: exclusive, waiting: false });
      this.dirty.add(i);
    }
  }

  /** A buffer arrived on `channel`; the sender has `backlog` more buffers queued. */
  onBuffer(channel: number, backlog: number): void {
    const c = this.channel(channel);
    if (c.freeFloating > 0) {
      c.freeFloating--;
      c.used.push(FLOATING);
    } else if (c.freeExclusive > 0) {
      c.freeExclusive--;
      c.used.push(EXCLUSIVE);
    } else {
      throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `input channel ${channel} received a buffer without credit`);
    }
    this.onBacklog(channel, backlog);
  }

  /** The sender announced its backlog: claim floating slots until free slots cover it. */
  onBacklog(channel: number, backlog: number): void {
    const c = this.channel(channel);
    c.required = backlog + this.exclusive;
    this.claimFloating(channel, c);
  }

  /** The oldest received buffer of `channel` has been consumed. */
  recycle(channel: number): void {
    const c = this.channel(channel);
    const kind = c.used.shift();
    if (kind === undefined) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `input channel ${channel} recycled more buffers than it received`);
    if (kind === EXCLUSIVE) {
      c.freeExclusive++;
      if (c.freeFloating > 0 && c.freeExclusive + c.freeFloating > c.required) {
        // swap: the exclusive slot replaces an already-announced floating one (no new credit)
        c.freeFloating--;
        this.releaseFloating();
      } else {
        this.announce(channel, c, 1);
      }
    } else if (c.freeExclusive + c.freeFloating < c.required) {
      c.freeFloating++;
      this.announce(channel, c, 1);
    } else {
      this.releaseFloating();
    }
  }

  /** Credits to send upstream since the last call: [channel, credit] pairs. */
  drainCredits(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const i of this.dirty) {
      const c = this.channels[i]!;
      if (c.unannounced > 0) out.push([i, c.unannounced]);
      c.unannounced = 0;
    }
    this.dirty.clear();
    return out;
  }

  get hasCreditsToAnnounce(): boolean {
    return this.dirty.size > 0;
  }

  /** Slots currently holding received buffers (for the buffers-in-flight metric). */
  get buffersInUse(): number {
    let n = 0;
    for (const c of this.channels) n += c.used.length;
    return n;
  }

  /** For tests: the invariant-relevant numbers of one channel. */
  inspect(channel: number): { free: number; floatingHeld: number; used: number; required: number } {
    const c = this.channel(channel);
    const usedFloating = c.used.filter((k) => k === FLOATING).length;
    return { free: c.freeExclusive + c.freeFloating, floatingHeld: c.freeFloating + usedFloating, used: c.used.length, required: c.required };
  }

  get floatingInPool(): number {
    return this.poolFree;
  }

  private claimFloating(index: number, c: ChannelCredits): void {
    while (!c.waiting && c.freeExclusive + c.freeFloating < c.required) {
      if (this.poolFree > 0) {
        this.poolFree--;
        c.freeFloating++;
        this.announce(index, c, 1);
      } else {
        c.waiting = true;
        this.waiters.push(index);
      }
    }
  }

  private releaseFloating(): void {
    while (this.waiters.length > 0) {
      const index = this.waiters.shift()!;
      const c = this.channels[index]!;
      c.waiting = false;
      if (c.freeExclusive + c.freeFloating < c.required) {
        c.freeFloating++;
        this.announce(index, c, 1);
        this.claimFloating(index, c); // re-registers as waiter if it still needs more
        return;
      }
    }
    this.poolFree++;
  }

  private announce(index: number, c: ChannelCredits, n: number): void {
    c.unannounced += n;
    this.dirty.add(index);
  }

  private channel(i: number): ChannelCredits {
    const c = this.channels[i];
    if (c === undefined) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `no input channel ${i}`);
    return c;
  }
}
