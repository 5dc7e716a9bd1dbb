/**
 * Sender side of one job edge for one producer subtask: one subpartition per consumer subtask
 * (Flink's PipelinedResultPartition with credit-based readers). Pure: the task actor asks it
 * for what may be sent (`poll`) and delivers credits to it.
 *
 * Invariants:
 *  1. A data buffer leaves a subpartition only against one credit; events (end-of-partition)
 *     need no credit but keep their place in the order.
 *  2. Sequence numbers per subpartition start at 0 and increase by one per item sent, data or event.
 *  3. Every sent data buffer carries the backlog: finished data buffers still queued behind it.
 *  4. The partition is `available` while its buffers in use (filling + queued) are below the pool
 *     size; the task stops taking input when it is not (backpressure). A record that is already
 *     being processed may overdraw the pool (bounded by what one record emits).
 *  5. After finish(), nothing more can be emitted, and `drained` is true once every subpartition
 *     has sent its end-of-partition event.
 *  6. A subpartition whose consumer runs in another process serializes each record as it is
 *     emitted (record-codec.ts) and its buffer is full at `bufferBytes`; an in-process one keeps
 *     the record objects and is full at `bufferRecords`. A record the codec refuses (too large,
 *     not serializable) throws a coded error and leaves the buffer as it was.
 *  7. A flush (buffer timeout, or every record at timeout 0) makes the partial buffer sendable,
 *     but it is only cut when it can leave: while the subpartition has no credit the buffer keeps
 *     filling (Flink's flushRequested on a BufferConsumer), so records flushed during
 *     backpressure share buffers instead of each taking one and waiting for its own credit.
 */
import { TroupeError } from '../../core/errors.js';
import { Fifo } from '../../core/fifo.js';
import { RecordEncoder } from './record-codec.js';

/**
 * In-band events: they travel in the channel's ordered stream between buffers, need no credit,
 * and take a sequence number. Barriers and their cancel markers are what checkpoints (issue 4)
 * ride on; a watermark is the producer's event-time progress.
 */
export type NetworkEvent =
  | { readonly kind: 'end-of-partition' }
  | { readonly kind: 'watermark'; readonly timestamp: number }
  /** `savepoint`: the directory (absolute) the savepoint is written into; absent for checkpoints. */
  | { readonly kind: 'checkpoint-barrier'; readonly checkpointId: number; readonly timestamp: number; readonly savepoint?: string }
  | { readonly kind: 'cancel-checkpoint'; readonly checkpointId: number };

export type QueueItem = { readonly records: unknown[] | Uint8Array; readonly event?: undefined } | { readonly records?: undefined; readonly event: NetworkEvent };

/** Byte sizing of subpartitions whose consumer is in another process. */
export interface RemoteBuffers {
  /** Per subpartition: does its consumer run in another process? */
  readonly remote: readonly boolean[];
  readonly bufferBytes: number;
  readonly maxRecordBytes: number;
}

export type SendFn = (subpartition: number, seq: number, item: QueueItem, backlog: number) => void;

class Subpartition {
  readonly queue = new Fifo<QueueItem>();
  dataQueued = 0;
  credit = 0;
  seq = 0;
  filling: unknown[] | null = null;
  eventSent = false;
  /** Set for a remote consumer: records are encoded as they are emitted. */
  encoder: RecordEncoder | null = null;
  /** The partial buffer may be cut and sent as soon as credit allows (invariant 7). */
  flushRequested = false;

  get hasPartial(): boolean {
    return this.filling !== null || (this.encoder !== null && this.encoder.count > 0);
  }
}

export class ResultPartition {
  private readonly subs: Subpartition[] = [];
  private inUse = 0;
  private finished = false;
  private pending = 0;
  /** Subpartitions with a flush requested on a partial buffer (invariant 7). */
  private flushRequests = 0;
  private rr: number;

  constructor(
    readonly edgeId: string,
    numSubpartitions: number,
    private readonly bufferRecords: number,
    readonly poolSize: number,
    private readonly flushEveryRecord: boolean,
    producerIndex = 0,
    private readonly remote: RemoteBuffers | null = null,
  ) {
    for (let i = 0; i < numSubpartitions; i++) {
      const s = new Subpartition();
      if (remote?.remote[i] === true) s.encoder = new RecordEncoder({ maxRecordBytes: remote.maxRecordBytes, initialCapacity: Math.min(remote.bufferBytes + 1024, 1 << 20) });
      this.subs.push(s);
    }
    this.rr = producerIndex % numSubpartitions;
  }

  get numSubpartitions(): number {
    return this.subs.length;
  }

  get available(): boolean {
    return this.inUse < this.poolSize;
  }

  get buffersInUse(): number {
    return this.inUse;
  }

  /** Items queued (or partial buffers flushed) that `poll` could send if credit allowed. */
  get hasSendable(): boolean {
    return this.pending > 0 || this.flushRequests > 0;
  }

  get drained(): boolean {
    return this.finished && this.subs.every((s) => s.eventSent);
  }

  emit(subpartition: number, record: unknown): void {
    const s = this.subs[subpartition]!;
    if (s.encoder !== null) {
      this.emitEncoded(s, s.encoder, record);
      return;
    }
    let buf = s.filling;
    if (buf === null) {
      if (this.finished) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `emit into finished partition ${this.edgeId}`);
      buf = s.filling = [];
      this.inUse++;
    }
    buf.push(record);
    if (buf.length >= this.bufferRecords) this.finishBuffer(s);
    else if (this.flushEveryRecord) this.requestFlush(s);
  }

  emitRoundRobin(record: unknown): void {
    const i = this.rr;
    this.rr = i + 1 === this.subs.length ? 0 : i + 1;
    this.emit(i, record);
  }

  broadcast(record: unknown): void {
    for (let i = 0; i < this.subs.length; i++) this.emit(i, record);
  }

  private emitEncoded(s: Subpartition, encoder: RecordEncoder, record: unknown): void {
    if (encoder.count === 0) {
      if (this.finished) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `emit into finished partition ${this.edgeId}`);
      encoder.add(record);
      this.inUse++;
    } else {
      encoder.add(record);
    }
    if (encoder.byteLength >= this.remote!.bufferBytes) this.finishEncoded(s, encoder);
    else if (this.flushEveryRecord) this.requestFlush(s);
  }

  /** Buffer timeout: every partial buffer may leave as soon as credit allows (invariant 7). */
  requestFlushAll(): void {
    for (const s of this.subs) if (s.hasPartial) this.requestFlush(s);
  }

  private requestFlush(s: Subpartition): void {
    if (s.flushRequested) return;
    s.flushRequested = true;
    this.flushRequests++;
  }

  private clearFlush(s: Subpartition): void {
    if (!s.flushRequested) return;
    s.flushRequested = false;
    this.flushRequests--;
  }

  /** Finishes every partial buffer at once (end of input, before an event). */
  flush(): void {
    for (const s of this.subs) {
      if (s.filling !== null) this.finishBuffer(s);
      else if (s.encoder !== null && s.encoder.count > 0) this.finishEncoded(s, s.encoder);
    }
  }

  /**
   * Queues an event behind everything emitted so far, on every subpartition (partial buffers
   * are flushed first so no record emitted before the event arrives after it).
   */
  broadcastEvent(event: Exclude<NetworkEvent, { kind: 'end-of-partition' }>): void {
    if (this.finished) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `event ${event.kind} after the end of partition ${this.edgeId}`);
    this.flush();
    for (const s of this.subs) {
      s.queue.push({ event });
      this.pending++;
    }
  }

  /** Flushes and queues end-of-partition on every subpartition. */
  finish(): void {
    if (this.finished) return;
    this.flush();
    this.finished = true;
    for (const s of this.subs) {
      s.queue.push({ event: { kind: 'end-of-partition' } });
      this.pending++;
    }
  }

  addCredit(subpartition: number, n: number): void {
    const s = this.subs[subpartition];
    if (s === undefined || !(n > 0)) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `bad credit ${n} for subpartition ${subpartition} of ${this.edgeId}`);
    s.credit += n;
  }

  /** Sends everything credit allows, in order, through `send`. */
  poll(send: SendFn): void {
    if (this.pending === 0 && this.flushRequests === 0) return;
    for (let i = 0; i < this.subs.length; i++) {
      const s = this.subs[i]!;
      this.cutFlushed(s);
      for (let item = s.queue.peek(); item !== undefined; item = s.queue.peek()) {
        if (item.event === undefined) {
          if (s.credit === 0) break;
          s.credit--;
          s.dataQueued--;
          this.inUse--;
        } else if (item.event.kind === 'end-of-partition') {
          s.eventSent = true;
        }
        s.queue.shift();
        this.pending--;
        send(i, s.seq++, item, s.dataQueued);
        this.cutFlushed(s);
      }
    }
  }

  /** A flushed partial buffer is cut once it is next in line and credit allows (invariant 7). */
  private cutFlushed(s: Subpartition): void {
    if (!s.flushRequested || s.queue.peek() !== undefined || s.credit === 0) return;
    if (s.filling !== null) this.finishBuffer(s);
    else if (s.encoder !== null && s.encoder.count > 0) this.finishEncoded(s, s.encoder);
    else this.clearFlush(s);
  }

  private finishEncoded(s: Subpartition, encoder: RecordEncoder): void {
    this.clearFlush(s);
    s.queue.push({ records: encoder.finish() });
    s.dataQueued++;
    this.pending++;
  }

  private finishBuffer(s: Subpartition): void {
    this.clearFlush(s);
    s.queue.push({ records: s.filling! });
    s.filling = null;
    s.dataQueued++;
    this.pending++;
  }
}
