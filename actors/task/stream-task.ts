/**
 * One parallel subtask of a chained vertex: its input gates, its result partitions, its operator
 * chain and the run loop that moves records between them. No comedy here: the actor shell
 * (task.actor.ts) feeds it messages and gives it a way to send.
 *
 * Invariants:
 *  1. The run loop takes input (a source batch or one input record) only while every result
 *     partition is available; otherwise it stops until credit arrives (backpressure reaches sources).
 *  2. The loop yields to the event loop every SLICE_MS so that messages (credits, buffers, cancel)
 *     of every task in the process are handled.
 *  3. A consumed input buffer is recycled at once and its credit announced at the end of the slice.
 *  4. The task finishes only after every input channel delivered end-of-partition, the chain ended
 *     its input, and every partition sent end-of-partition downstream.
 *  5. Any error ends the task as failed exactly once; later messages are ignored.
 */
import type { Clock } from '../../core/clock.js';
import { Fifo } from '../../core/fifo.js';
import { TroupeError, toErrorRecord, type ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';
import type { OperatorSpec } from '../../core/job-graph.js';
import type { Collector } from '../../api/datastream/functions.js';
import type { SourceReader } from '../../api/datastream/source.js';
import { HeapKeyedStateBackend } from '../../state/heap/heap-keyed-state-backend.js';
import { keyGroupRange } from '../../state/key-groups.js';
import { recordWriter, type RecordWriter } from '../network/channel-selector.js';
import { InputGateCredits } from '../network/input-credits.js';
import { ResultPartition, type NetworkEvent, type QueueItem } from '../network/result-partition.js';
import { WatermarkValve } from '../network/watermark-valve.js';
import type { DataPlaneMessage } from '../protocol/data-plane.js';
import type { TaskDeploymentDescriptor } from '../protocol/deployment.js';
import type { ExecutionState, TaskMetrics } from '../protocol/job-status.js';
import { OperatorChain, OperatorFailure } from './operator-chain.js';
import type { OperatorContext } from './operators/stream-operator.js';
import { keySelectorOf, type JobUserCode } from './user-code.js';

const SLICE_MS = 4;
const SOURCE_BATCH = 256;

export interface TaskEnvironment {
  readonly clock: Clock;
  send(to: ExecutionAttemptId, message: DataPlaneMessage): void;
  /** True when `to` runs in another process (its subpartition encodes records). */
  isRemote?(to: ExecutionAttemptId): boolean;
  collect(operatorId: string, records: unknown[]): void;
  /** Runs `fn` soon, after pending I/O (setImmediate). */
  schedule(fn: () => void): void;
  setInterval(fn: () => void, ms: number): () => void;
  /** The task reached a terminal state. */
  terminated(state: 'finished' | 'failed' | 'canceled', error?: ErrorRecord): void;
}

interface Gate {
  readonly edge: string;
  readonly forward: boolean;
  readonly producers: readonly ExecutionAttemptId[];
  readonly credits: InputGateCredits;
  readonly expectedSeq: number[];
  readonly ended: boolean[];
  /** End-of-partition received (not necessarily processed yet): nothing may follow it. */
  readonly endReceived: boolean[];
  /** Index of this gate's channel 0 among all input channels of the task (watermark valve). */
  readonly firstChannel: number;
}

interface InputItem {
  readonly gate: Gate;
  readonly channel: number;
  readonly records: unknown[] | null; // null: an event
  readonly event?: NetworkEvent | undefined;
}

interface Output {
  readonly partition: ResultPartition;
  readonly consumers: readonly ExecutionAttemptId[];
  readonly forward: boolean;
}

export class StreamTask {
  state: ExecutionState = 'created';
  private chain!: OperatorChain;
  private reader: SourceReader<unknown> | null = null;
  private readonly gates = new Map<string, Gate>();
  private readonly gateList: Gate[] = [];
  private readonly outputs: Output[] = [];
  private readonly partitions: ResultPartition[] = [];
  private readonly input = new Fifo<InputItem>();
  private current: unknown[] | null = null;
  private currentItem: InputItem | null = null;
  private pos = 0;
  private openChannels = 0;
  private valve = new WatermarkValve(0);
  private scheduled = false;
  private waiting: 'idle' | 'backpressure' | null = null;
  private waitSince = 0;
  private startedAt = 0;
  private endedAt = 0;
  private busyMs = 0;
  private backpressuredMs = 0;
  private idleMs = 0;
  private stopFlusher: (() => void) | null = null;
  /** Input has ended; the run loop is over, the task waits for its outputs to drain. */
  private finishing = false;
  private backend: HeapKeyedStateBackend | null = null;
  private sourceOutput: Collector<unknown> | null = null;

  constructor(
    readonly tdd: TaskDeploymentDescriptor,
    private readonly userCode: JobUserCode,
    private readonly env: TaskEnvironment,
  ) {}

  /** Builds gates, partitions and the chain, and opens the operators. */
  async open(): Promise<void> {
    try {
      await this.openChain();
    } catch (error) {
      throw error instanceof OperatorFailure ? TroupeError.fromRecord(operatorFailureRecord(error)) : error;
    }
  }

  private async openChain(): Promise<void> {
    const { tdd } = this;
    const net = tdd.network;
    for (const g of tdd.inputs) {
      const gate: Gate = {
        edge: g.edge,
        forward: g.partitioner === 'forward',
        producers: g.producers,
        credits: new InputGateCredits(g.producers.length, net.exclusiveCredits, net.floatingCredits),
        expectedSeq: g.producers.map(() => 0),
        ended: g.producers.map(() => false),
        endReceived: g.producers.map(() => false),
        firstChannel: this.openChannels,
      };
      this.gates.set(g.edge, gate);
      this.gateList.push(gate);
      this.openChannels += g.producers.length;
    }
    this.valve = new WatermarkValve(this.openChannels);
    const writers = new Map<string, RecordWriter>();
    for (const o of tdd.outputs) {
      const n = o.consumers.length;
      const pool = Math.max(n + 1, n * net.exclusiveCredits + net.floatingCredits);
      const remote = o.consumers.map((c) => this.env.isRemote?.(c) === true);
      const partition = new ResultPartition(o.edge, n, net.bufferRecords, pool, net.bufferTimeoutMs === 0, tdd.subtask, remote.includes(true) ? { remote, bufferBytes: net.bufferBytes, maxRecordBytes: net.maxRecordBytes } : null);
      this.outputs.push({ partition, consumers: o.consumers, forward: o.partitioner === 'forward' });
      this.partitions.push(partition);
      const keySelector = o.keyedBy === undefined ? undefined : keySelectorOf(this.userCode.get(o.keyedBy));
      if (o.partitioner === 'hash' && keySelector === undefined) {
        throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `edge ${o.edge} is keyed by ${o.keyedBy ?? '?'}, which has no key selector`);
      }
      writers.set(o.edge, recordWriter(partition, o.partitioner, keySelector, tdd.maxParallelism));
    }
    this.chain = new OperatorChain(tdd.vertex, this.userCode, writers, (spec) => this.operatorContext(spec));
    await this.chain.open();
    if (this.chain.source !== null) {
      this.reader = this.chain.source.source.createReader({ subtaskIndex: tdd.subtask, parallelism: tdd.vertex.parallelism });
      this.sourceOutput = this.chain.source.output;
      try {
        await this.reader.open?.();
      } catch (error) {
        throw new OperatorFailure(tdd.vertex.operators[0]!.name, error);
      }
    }
  }

  /** All tasks of the job are deployed: announce initial credit and start the run loop. */
  start(): void {
    if (this.state !== 'created') return;
    this.state = 'running';
    this.startedAt = this.env.clock.monotonic();
    const timeout = this.tdd.network.bufferTimeoutMs;
    if (timeout > 0) this.stopFlusher = this.env.setInterval(() => this.flushOutputs(), timeout);
    this.announceCredits();
    if (this.reader === null && this.openChannels === 0) {
      this.fail(new TroupeError('TROUPE_INVALID_JOB_GRAPH', `vertex ${this.tdd.vertex.name} has neither a source nor inputs`));
      return;
    }
    this.beginWait('idle');
    this.wake();
  }

  onData(message: DataPlaneMessage): void {
    if (this.state !== 'running' && this.state !== 'created') return;
    try {
      if (message.type === 'credit') {
        const out = this.outputs.find((o) => o.partition.edgeId === message.edge);
        if (out === undefined) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `credit for unknown edge ${message.edge}`);
        out.partition.addCredit(out.forward ? 0 : message.consumer, message.credit);
        this.sendOutputs();
        if (this.waiting === 'backpressure' && this.outputsAvailable()) this.wake();
        this.maybeComplete();
        return;
      }
      const gate = this.gates.get(message.edge);
      if (gate === undefined) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `data for unknown edge ${message.edge}`);
      const channel = gate.forward ? 0 : message.producer;
      const expected = gate.expectedSeq[channel];
      if (expected === undefined) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `no channel ${channel} on edge ${message.edge}`);
      if (message.seq !== expected) {
        throw new TroupeError('TROUPE_CHANNEL_SEQUENCE', `edge ${message.edge} channel ${channel}: expected seq ${expected}, got ${message.seq}`, {
          details: { edge: message.edge, channel, expected, got: message.seq },
        });
      }
      if (gate.endReceived[channel] === true) {
        throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `edge ${message.edge} channel ${channel}: ${message.type} seq ${message.seq} after end-of-partition`);
      }
      gate.expectedSeq[channel] = expected + 1;
      if (message.type === 'buffer') {
        if (!Array.isArray(message.records)) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `edge ${message.edge} channel ${channel}: a buffer reached the task undecoded`);
        gate.credits.onBuffer(channel, message.backlog);
        this.input.push({ gate, channel, records: message.records });
      } else {
        if (message.event.kind === 'end-of-partition') gate.endReceived[channel] = true;
        this.input.push({ gate, channel, records: null, event: message.event });
      }
      if (this.waiting === 'idle') this.wake();
    } catch (error) {
      this.fail(error);
    }
  }

  cancel(): void {
    if (this.isTerminal()) return;
    this.terminate('canceled');
  }

  metrics(): TaskMetrics {
    const now = this.endedAt > 0 ? this.endedAt : this.env.clock.monotonic();
    const wall = this.startedAt > 0 ? Math.max(now - this.startedAt, 1e-9) : 0;
    let idle = this.idleMs;
    let bp = this.backpressuredMs;
    if (this.waiting !== null && this.endedAt === 0) {
      if (this.waiting === 'idle') idle += now - this.waitSince;
      else bp += now - this.waitSince;
    }
    const ops = this.tdd.vertex.operators.map((op, i) => ({
      id: op.id,
      recordsIn: this.chain?.recordsIn(i) ?? 0,
      recordsOut: this.chain?.recordsOut(i) ?? 0,
    }));
    let inFlight = 0;
    for (const p of this.partitions) inFlight += p.buffersInUse;
    for (const g of this.gateList) inFlight += g.credits.buffersInUse;
    const ratio = (x: number): number => (wall > 0 ? Math.min(1, x / wall) : 0);
    return {
      attemptId: this.tdd.attemptId,
      vertex: this.tdd.vertex.id,
      subtask: this.tdd.subtask,
      state: this.state,
      recordsIn: ops[0]?.recordsIn ?? 0,
      recordsOut: ops.reduce((n, o, i) => (this.tdd.vertex.operators[i]!.outEdges.length > 0 ? n + o.recordsOut : n), 0),
      busyMs: this.busyMs,
      backpressuredMs: bp,
      idleMs: idle,
      wallMs: wall,
      busyRatio: ratio(this.busyMs),
      backpressuredRatio: ratio(bp),
      idleRatio: ratio(idle),
      buffersInFlight: inFlight,
      operators: ops,
    };
  }

  // ---- run loop ----

  private wake(): void {
    if (this.scheduled || this.finishing || this.state !== 'running') return;
    this.scheduled = true;
    this.env.schedule(this.loop);
  }

  private readonly loop = (): void => {
    this.scheduled = false;
    if (this.finishing || this.state !== 'running') return;
    const start = this.env.clock.monotonic();
    this.endWait(start);
    try {
      if (this.reader !== null) this.runSource(start);
      else this.runInput(start);
    } catch (error) {
      this.fail(error);
      return;
    } finally {
      this.busyMs += this.env.clock.monotonic() - start;
    }
    this.sendOutputs();
    this.announceCredits();
  };

  private runSource(start: number): void {
    const reader = this.reader!;
    const out = this.sourceOutput!;
    const clock = this.env.clock;
    for (;;) {
      if (!this.outputsAvailable()) return this.beginWait('backpressure');
      let result;
      try {
        result = reader.pollNext(out, SOURCE_BATCH);
      } catch (error) {
        throw error instanceof OperatorFailure ? error : new OperatorFailure(this.tdd.vertex.operators[0]!.name, error);
      }
      if (result === 'end') return this.endOfInput();
      if (result !== 'more') {
        this.beginWait('idle');
        result.then(
          () => this.wake(),
          (error: unknown) => this.fail(new OperatorFailure(this.tdd.vertex.operators[0]!.name, error)),
        );
        return;
      }
      if (clock.monotonic() - start >= SLICE_MS) return this.wake();
    }
  }

  private runInput(start: number): void {
    const head = this.chain.head;
    const clock = this.env.clock;
    for (;;) {
      let records = this.current;
      if (records === null) {
        const item = this.input.shift();
        if (item === undefined) return this.beginWait('idle');
        if (item.records === null) {
          if (this.onEvent(item)) return this.endOfInput();
          continue;
        }
        records = this.current = item.records;
        this.currentItem = item;
        this.pos = 0;
      }
      const n = records.length;
      while (this.pos < n) {
        if (!this.outputsAvailable()) return this.beginWait('backpressure');
        head.collect(records[this.pos++]);
        // a slow function must not hold the event loop for a whole buffer (heartbeats, credits)
        if ((this.pos & 63) === 0 && this.pos < n && clock.monotonic() - start >= SLICE_MS) return this.wake();
      }
      const item = this.currentItem!;
      item.gate.credits.recycle(item.channel);
      this.current = null;
      this.currentItem = null;
      if (clock.monotonic() - start >= SLICE_MS) return this.wake();
    }
  }

  /** Handles an in-band event in input order; true when the last channel just ended. */
  private onEvent(item: InputItem): boolean {
    const { gate, channel } = item;
    const event = item.event;
    if (event === undefined) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `edge ${gate.edge} channel ${channel}: an event without a kind`);
    switch (event.kind) {
      case 'end-of-partition': {
        if (gate.ended[channel]) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `edge ${gate.edge} channel ${channel} ended twice`);
        gate.ended[channel] = true;
        this.openChannels--;
        const advanced = this.valve.onChannelEnded(gate.firstChannel + channel);
        if (advanced !== null && this.openChannels > 0) this.forwardWatermark(advanced);
        return this.openChannels === 0;
      }
      case 'watermark': {
        const advanced = this.valve.onWatermark(gate.firstChannel + channel, event.timestamp);
        if (advanced !== null) this.forwardWatermark(advanced);
        return false;
      }
      case 'checkpoint-barrier':
      case 'cancel-checkpoint':
        throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `edge ${gate.edge} channel ${channel}: ${event.kind} ${event.checkpointId} arrived, but checkpointing is not enabled for this job`);
      default:
        throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `edge ${gate.edge} channel ${channel}: unknown event ${String((event as { kind?: unknown }).kind)}`);
    }
  }

  private forwardWatermark(timestamp: number): void {
    for (const p of this.partitions) p.broadcastEvent({ kind: 'watermark', timestamp });
  }

  /** All input consumed: end the chain's input, then send end-of-partition downstream. */
  private endOfInput(): void {
    this.finishing = true;
    this.finishAsync().catch((error: unknown) => this.fail(error));
  }

  private async finishAsync(): Promise<void> {
    if (this.reader !== null) {
      try {
        await this.reader.close?.();
      } catch (error) {
        throw new OperatorFailure(this.tdd.vertex.operators[0]!.name, error);
      }
    }
    await this.chain.endInput();
    for (const p of this.partitions) p.finish();
    this.sendOutputs();
    this.maybeComplete();
  }

  private maybeComplete(): void {
    if (!this.finishing || this.state !== 'running') return;
    for (const p of this.partitions) if (!p.drained) return;
    this.terminate('finished');
  }

  // ---- outputs and credits ----

  private outputsAvailable(): boolean {
    const ps = this.partitions;
    for (let i = 0; i < ps.length; i++) if (!ps[i]!.available) return false;
    return true;
  }

  private flushOutputs(): void {
    if (this.state !== 'running') return;
    for (const p of this.partitions) p.requestFlushAll();
    this.sendOutputs();
  }

  private sendOutputs(): void {
    const producer = this.tdd.subtask;
    for (const o of this.outputs) {
      if (!o.partition.hasSendable) continue;
      const edge = o.partition.edgeId;
      o.partition.poll((sub: number, seq: number, item: QueueItem, backlog: number) => {
        const to = o.consumers[sub]!;
        if (item.event === undefined) this.env.send(to, { type: 'buffer', edge, producer, seq, records: item.records, backlog });
        else this.env.send(to, { type: 'event', edge, producer, seq, event: item.event });
      });
    }
  }

  private announceCredits(): void {
    const consumer = this.tdd.subtask;
    for (const g of this.gateList) {
      if (!g.credits.hasCreditsToAnnounce) continue;
      for (const [channel, credit] of g.credits.drainCredits()) {
        if (g.ended[channel]) continue;
        this.env.send(g.producers[channel]!, { type: 'credit', edge: g.edge, consumer, credit });
      }
    }
  }

  // ---- time accounting ----

  private beginWait(reason: 'idle' | 'backpressure'): void {
    if (this.waiting !== null) return;
    this.waiting = reason;
    this.waitSince = this.env.clock.monotonic();
  }

  private endWait(now: number): void {
    if (this.waiting === 'idle') this.idleMs += now - this.waitSince;
    else if (this.waiting === 'backpressure') this.backpressuredMs += now - this.waitSince;
    this.waiting = null;
  }

  // ---- termination ----

  private isTerminal(): boolean {
    return this.state === 'finished' || this.state === 'failed' || this.state === 'canceled';
  }

  fail(error: unknown): void {
    if (this.isTerminal()) return;
    const record =
      error instanceof OperatorFailure
        ? operatorFailureRecord(error)
        : toErrorRecord(error, 'TROUPE_TASK_FAILED');
    this.terminate('failed', record);
  }

  private terminate(state: 'finished' | 'failed' | 'canceled', error?: ErrorRecord): void {
    const now = this.env.clock.monotonic();
    this.endWait(now);
    this.endedAt = now;
    this.state = state;
    this.stopFlusher?.();
    this.stopFlusher = null;
    const closing = (async () => {
      try {
        if (state !== 'finished' && this.reader !== null) await this.reader.close?.();
      } catch {
        /* the task already failed or was cancelled; closing is best effort */
      }
      try {
        await this.chain?.close();
      } catch (closeError) {
        if (state === 'finished') {
          this.state = 'failed';
          return this.env.terminated('failed', closeError instanceof OperatorFailure ? operatorFailureRecord(closeError) : toErrorRecord(closeError));
        }
      }
      this.env.terminated(state, error);
    })();
    closing.catch((e: unknown) => console.error('[troupe] task termination failed', e));
  }

  private operatorContext(spec: OperatorSpec): OperatorContext {
    const { tdd } = this;
    return {
      jobId: tdd.jobId,
      operatorName: spec.name,
      subtaskIndex: tdd.subtask,
      parallelism: tdd.vertex.parallelism,
      maxParallelism: tdd.maxParallelism,
      keyedStateBackend: () =>
        (this.backend ??= new HeapKeyedStateBackend(tdd.maxParallelism, keyGroupRange(tdd.maxParallelism, tdd.vertex.parallelism, tdd.subtask))),
      collect: (records) => this.env.collect(spec.id, records),
    };
  }
}

function operatorFailureRecord(failure: OperatorFailure): ErrorRecord {
  const inner = failure.thrown;
  if (inner instanceof TroupeError) {
    return { ...inner.toRecord(), operator: failure.operatorName, message: `operator '${failure.operatorName}': ${inner.message}` };
  }
  const record = toErrorRecord(inner, 'TROUPE_USER_FUNCTION_FAILED');
  return {
    code: 'TROUPE_USER_FUNCTION_FAILED',
    message: `user function of operator '${failure.operatorName}' threw: ${record.cause?.message ?? record.message}`,
    operator: failure.operatorName,
    ...(record.cause !== undefined ? { cause: record.cause } : {}),
  };
}
