/**
 * Checkpoint barriers at a task's input channels, pure: exactly-once alignment (Flink's
 * BarrierBuffer) and at-least-once tracking (Flink's BarrierTracker). The task hands in the
 * in-band events of its channels in the order it takes them and executes the returned effects in
 * order; records never pass through here, the task only asks `isBlocked(channel)`.
 *
 * Invariants, exactly-once (BarrierAligner):
 *  1. A channel is blocked from the moment its barrier n is handed in until checkpoint n triggers or
 *     aborts. The caller keeps everything behind that barrier queued (records and events); handing
 *     in an event of a blocked channel throws TROUPE_PROTOCOL_VIOLATION.
 *  2. Checkpoint n triggers once barrier n arrived on every channel that has not ended; a channel
 *     that ends counts as aligned. 'trigger-snapshot' comes before 'release', so the snapshot holds
 *     exactly the records in front of barrier n on every channel.
 *  3. At most one checkpoint is aligning. A barrier or cancel marker of a newer checkpoint m aborts
 *     it ('abort', reason 'subsumed'), and a barrier m starts aligning m; a cancel marker of the
 *     aligning checkpoint aborts it ('cancel-marker'); `abort()` (a timeout, an alignment buffer
 *     limit, the JobMaster) aborts it ('external').
 *  4. Every checkpoint id yields at most one of 'trigger-snapshot' and 'abort', and ids only grow
 *     across them: a barrier or cancel marker of an id at or below the newest one seen is ignored.
 *  5. Nothing deadlocks: an alignment ends as soon as every unblocked channel delivered barrier n,
 *     a newer marker, or its end, and after it ends no channel is blocked.
 *  6. With a single channel nothing ever blocks: a newer barrier triggers at once.
 *
 * Invariants, at-least-once (BarrierTracker):
 *  7. Nothing ever blocks. Checkpoint n triggers when barrier n arrived on every channel that has not
 *     ended (an ended channel counts as arrived), so the snapshot holds at least the records in
 *     front of barrier n on every channel, and maybe some behind it.
 *  8. When n triggers, older checkpoints still pending are given up ('abort', 'subsumed'); at most
 *     `maxPending` checkpoints are tracked, the oldest beyond that is given up ('too-many-pending');
 *     a cancel marker or `abort()` gives n up at once. Invariant 4 holds here too.
 *
 * On 'abort' the caller declines the checkpoint to the JobMaster (unless the reason is 'external')
 * and broadcasts cancel-checkpoint downstream, so that downstream tasks stop waiting for it.
 */
import { TroupeError } from '../../core/errors.js';
import type { NetworkEvent } from './result-partition.js';

export type CheckpointingMode = 'exactly-once' | 'at-least-once';

export type BarrierAbortReason = 'subsumed' | 'cancel-marker' | 'too-many-pending' | 'external';

export type BarrierEffect =
  /** Keep this channel's items queued: hand in nothing of it until a 'release' names it. */
  | { readonly type: 'block'; readonly channel: number; readonly checkpointId: number }
  /** Take input from these channels again (their queued items come first). */
  | { readonly type: 'release'; readonly channels: readonly number[] }
  /** Snapshot the operator state now, then forward the barrier downstream. */
  | { readonly type: 'trigger-snapshot'; readonly checkpointId: number; readonly timestamp: number }
  | { readonly type: 'abort'; readonly checkpointId: number; readonly reason: BarrierAbortReason };

export interface BarrierHandler {
  readonly mode: CheckpointingMode;
  readonly channels: number;
  /** Exactly-once: the aligning checkpoint; at-least-once: the newest pending one; else null. */
  readonly pendingCheckpoint: number | null;
  isBlocked(channel: number): boolean;
  onBarrier(channel: number, checkpointId: number, timestamp: number): BarrierEffect[];
  onCancel(channel: number, checkpointId: number): BarrierEffect[];
  onEndOfPartition(channel: number): BarrierEffect[];
  /** Dispatches an in-band event; a watermark yields no effect. */
  onEvent(channel: number, event: NetworkEvent): BarrierEffect[];
  /** Gives up checkpoint `checkpointId` (and any older pending one); later markers of it are ignored. */
  abort(checkpointId: number, reason?: BarrierAbortReason): BarrierEffect[];
}

export interface BarrierHandlerOptions {
  /** At-least-once only: how many checkpoints are tracked at once (Flink: 50). */
  readonly maxPending?: number;
}

export function createBarrierHandler(mode: CheckpointingMode, channels: number, options: BarrierHandlerOptions = {}): BarrierHandler {
  return mode === 'exactly-once' ? new BarrierAligner(channels) : new BarrierTracker(channels, options.maxPending);
}

function checkCount(what: string, n: number, min: number): void {
  if (!Number.isSafeInteger(n) || n < min) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${what} must be an integer ≥ ${min}, got ${String(n)}`);
}

function violation(message: string): TroupeError {
  return new TroupeError('TROUPE_PROTOCOL_VIOLATION', message);
}

abstract class BarrierHandlerBase {
  protected readonly ended: boolean[];
  protected endedCount = 0;

  constructor(readonly channels: number) {
    checkCount('channels', channels, 1);
    this.ended = new Array<boolean>(channels).fill(false);
  }

  onEvent(channel: number, event: NetworkEvent): BarrierEffect[] {
    switch (event.kind) {
      case 'checkpoint-barrier':
        return this.onBarrier(channel, event.checkpointId, event.timestamp);
      case 'cancel-checkpoint':
        return this.onCancel(channel, event.checkpointId);
      case 'end-of-partition':
        return this.onEndOfPartition(channel);
      case 'watermark':
        this.checkChannel(channel, event.kind);
        return [];
      default:
        throw violation(`channel ${channel}: unknown event ${String((event as { kind?: unknown }).kind)}`);
    }
  }

  abstract onBarrier(channel: number, checkpointId: number, timestamp: number): BarrierEffect[];
  abstract onCancel(channel: number, checkpointId: number): BarrierEffect[];
  abstract onEndOfPartition(channel: number): BarrierEffect[];

  isBlocked(_channel: number): boolean {
    return false;
  }

  protected checkChannel(channel: number, what: string, checkpointId?: number): void {
    if (!Number.isInteger(channel) || channel < 0 || channel >= this.channels) throw violation(`${what} on channel ${channel}, but there are ${this.channels} channels`);
    if (this.ended[channel] === true) throw violation(`${what} on channel ${channel} after its end-of-partition`);
    if (this.isBlocked(channel)) throw violation(`${what} on channel ${channel}, which is blocked for checkpoint alignment (the caller must hold its items back)`);
    if (checkpointId !== undefined && (!Number.isSafeInteger(checkpointId) || checkpointId < 0)) throw violation(`${what} on channel ${channel} with checkpoint id ${String(checkpointId)}`);
  }

  protected markEnded(channel: number): void {
    this.ended[channel] = true;
    this.endedCount++;
  }
}

/** Exactly-once: blocks channels that delivered barrier n until n arrived everywhere. */
export class BarrierAligner extends BarrierHandlerBase implements BarrierHandler {
  readonly mode = 'exactly-once';
  private readonly blocked: boolean[];
  private blockedCount = 0;
  /** Newest checkpoint id seen (aligning, triggered or aborted); -1 before any. */
  private newest = -1;
  private aligning: { readonly id: number; readonly timestamp: number } | null = null;

  constructor(channels: number) {
    super(channels);
    this.blocked = new Array<boolean>(channels).fill(false);
  }

  get pendingCheckpoint(): number | null {
    return this.aligning?.id ?? null;
  }

  /** The newest checkpoint id seen: aligning, triggered or aborted; -1 before any. */
  get latestCheckpoint(): number {
    return this.newest;
  }

  override isBlocked(channel: number): boolean {
    return this.blocked[channel] === true;
  }

  onBarrier(channel: number, checkpointId: number, timestamp: number): BarrierEffect[] {
    this.checkChannel(channel, `barrier ${checkpointId}`, checkpointId);
    const effects: BarrierEffect[] = [];
    if (this.aligning !== null) {
      if (checkpointId < this.aligning.id) return effects;
      if (checkpointId > this.aligning.id) this.stopAligning(effects, 'subsumed');
    } else if (checkpointId <= this.newest) {
      return effects;
    }
    if (this.aligning === null) {
      this.newest = checkpointId;
      this.aligning = { id: checkpointId, timestamp };
    }
    this.blocked[channel] = true;
    this.blockedCount++;
    // the channel that completes the alignment is never reported blocked (invariant 6)
    if (!this.completeIfAligned(effects, channel)) effects.push({ type: 'block', channel, checkpointId });
    return effects;
  }

  onCancel(channel: number, checkpointId: number): BarrierEffect[] {
    this.checkChannel(channel, `cancel-checkpoint ${checkpointId}`, checkpointId);
    const effects: BarrierEffect[] = [];
    if (checkpointId <= this.newest && (this.aligning === null || checkpointId < this.aligning.id)) return effects;
    if (this.aligning !== null && checkpointId > this.aligning.id) this.stopAligning(effects, 'subsumed');
    if (this.aligning !== null) {
      this.stopAligning(effects, 'cancel-marker');
    } else {
      this.newest = checkpointId;
      effects.push({ type: 'abort', checkpointId, reason: 'cancel-marker' });
    }
    return effects;
  }

  onEndOfPartition(channel: number): BarrierEffect[] {
    this.checkChannel(channel, 'end-of-partition');
    this.markEnded(channel);
    const effects: BarrierEffect[] = [];
    if (this.aligning !== null) this.completeIfAligned(effects, -1);
    return effects;
  }

  abort(checkpointId: number, reason: BarrierAbortReason = 'external'): BarrierEffect[] {
    checkCount('checkpoint id', checkpointId, 0);
    const effects: BarrierEffect[] = [];
    if (this.aligning !== null && this.aligning.id <= checkpointId) this.stopAligning(effects, this.aligning.id === checkpointId ? reason : 'subsumed');
    if (checkpointId > this.newest) this.newest = checkpointId;
    return effects;
  }

  private completeIfAligned(effects: BarrierEffect[], justBlocked: number): boolean {
    const aligning = this.aligning!;
    if (this.blockedCount + this.endedCount < this.channels) return false;
    effects.push({ type: 'trigger-snapshot', checkpointId: aligning.id, timestamp: aligning.timestamp });
    this.releaseAll(effects, justBlocked);
    return true;
  }

  private stopAligning(effects: BarrierEffect[], reason: BarrierAbortReason): void {
    effects.push({ type: 'abort', checkpointId: this.aligning!.id, reason });
    this.releaseAll(effects, -1);
  }

  private releaseAll(effects: BarrierEffect[], unreported: number): void {
    const channels: number[] = [];
    for (let c = 0; c < this.channels; c++) {
      if (!this.blocked[c]) continue;
      this.blocked[c] = false;
      if (c !== unreported) channels.push(c);
    }
    this.blockedCount = 0;
    this.aligning = null;
    if (channels.length > 0) effects.push({ type: 'release', channels });
  }
}

interface Tracked {
  readonly id: number;
  readonly timestamp: number;
  readonly arrived: boolean[];
  aborted: boolean;
}

/** At-least-once: counts barriers per checkpoint, never blocks. */
export class BarrierTracker extends BarrierHandlerBase implements BarrierHandler {
  readonly mode = 'at-least-once';
  readonly maxPending: number;
  /** Ascending by id. */
  private readonly pending: Tracked[] = [];
  private newest = -1;

  constructor(channels: number, maxPending = 50) {
    super(channels);
    checkCount('maxPending', maxPending, 1);
    this.maxPending = maxPending;
  }

  get pendingCheckpoint(): number | null {
    return this.pending.at(-1)?.id ?? null;
  }

  get latestCheckpoint(): number {
    return this.newest;
  }

  onBarrier(channel: number, checkpointId: number, timestamp: number): BarrierEffect[] {
    this.checkChannel(channel, `barrier ${checkpointId}`, checkpointId);
    const effects: BarrierEffect[] = [];
    const tracked = this.arrive(effects, channel, checkpointId, timestamp, `barrier ${checkpointId}`);
    if (tracked !== null) this.completeArrived(effects);
    return effects;
  }

  onCancel(channel: number, checkpointId: number): BarrierEffect[] {
    this.checkChannel(channel, `cancel-checkpoint ${checkpointId}`, checkpointId);
    const effects: BarrierEffect[] = [];
    const tracked = this.arrive(effects, channel, checkpointId, 0, `cancel-checkpoint ${checkpointId}`);
    if (tracked !== null) {
      if (!tracked.aborted) {
        tracked.aborted = true;
        effects.push({ type: 'abort', checkpointId, reason: 'cancel-marker' });
      }
      this.completeArrived(effects);
    }
    return effects;
  }

  onEndOfPartition(channel: number): BarrierEffect[] {
    this.checkChannel(channel, 'end-of-partition');
    this.markEnded(channel);
    const effects: BarrierEffect[] = [];
    this.completeArrived(effects);
    return effects;
  }

  abort(checkpointId: number, reason: BarrierAbortReason = 'external'): BarrierEffect[] {
    checkCount('checkpoint id', checkpointId, 0);
    const effects: BarrierEffect[] = [];
    const tracked = this.pending.find((p) => p.id === checkpointId);
    if (tracked !== undefined && !tracked.aborted) {
      tracked.aborted = true;
      effects.push({ type: 'abort', checkpointId, reason });
    }
    if (checkpointId > this.newest) this.newest = checkpointId;
    return effects;
  }

  /** Records a marker of `id` on `channel`; null when the marker is ignored (invariant 4). */
  private arrive(effects: BarrierEffect[], channel: number, id: number, timestamp: number, what: string): Tracked | null {
    let tracked = this.pending.find((p) => p.id === id) ?? null;
    if (tracked === null) {
      if (id <= this.newest) return null;
      this.newest = id;
      tracked = { id, timestamp, arrived: new Array<boolean>(this.channels).fill(false), aborted: false };
      this.pending.push(tracked);
      if (this.pending.length > this.maxPending) {
        const dropped = this.pending.shift()!;
        if (!dropped.aborted) effects.push({ type: 'abort', checkpointId: dropped.id, reason: 'too-many-pending' });
      }
    }
    if (tracked.arrived[channel] === true) throw violation(`${what} on channel ${channel}, which already delivered a marker of checkpoint ${id}`);
    tracked.arrived[channel] = true;
    return tracked;
  }

  /** Triggers every complete checkpoint, oldest first, and gives up the incomplete older ones (invariant 8). */
  private completeArrived(effects: BarrierEffect[]): void {
    let last = -1;
    for (let i = 0; i < this.pending.length; i++) if (this.isComplete(this.pending[i]!)) last = i;
    if (last < 0) return;
    for (const p of this.pending.splice(0, last + 1)) {
      if (p.aborted) continue;
      effects.push(this.isComplete(p) ? { type: 'trigger-snapshot', checkpointId: p.id, timestamp: p.timestamp } : { type: 'abort', checkpointId: p.id, reason: 'subsumed' });
    }
  }

  private isComplete(p: Tracked): boolean {
    for (let c = 0; c < this.channels; c++) if (!p.arrived[c] && !this.ended[c]) return false;
    return true;
  }
}
