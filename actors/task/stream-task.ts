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
 *  6. Checkpoints (when the job takes them): a source snapshots when triggered, between two
 *     batches; any other task hands the barriers of its channels to a BarrierHandler in input order
 *     and snapshots when it says so. While exactly-once alignment blocks a channel, the items that
 *     channel delivers wait in its own queue (holding their credit, so the producer is backpressured)
 *     and go back to the front of the input, in order, when the channel is released.
 *  7. A keyed backend that keeps state outside memory gets the keys of a buffer prefetched before
 *     the buffer's first record is processed.
 */
import type { Clock } from '../../core/clock.js';
import { Fifo } from '../../core/fifo.js';
import { TroupeError, toErrorRecord, type ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';
import type { OperatorSpec } from '../../core/job-graph.js';
import type { Collector } from '../../api/datastream/functions.js';
import type { SourceReader } from '../../api/datastream/source.js';
import type { KeyedStateBackend } from '../../state/backend.js';
import { createKeyedStateBackend, HEAP_FULL } from '../../state/backend-factory.js';
import type { CheckpointStore } from '../../state/checkpoint-storage/checkpoint-store.js';
import { keyGroupRange } from '../../state/key-groups.js';
import { createBarrierHandler, type BarrierEffect, type BarrierHandler } from '../network/barrier-aligner.js';
import type { TaskStateSnapshot } from '../protocol/job-master.js';
import { SinkOperator } from './operators/sink-operator.js';
import { restoreKeyed, SubtaskCheckpointer, type SyncSnapshot } from './subtask-checkpointer.js';
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
/** A source batch should take at most this long, so that a slow chain cannot stretch a slice. */
const SOURCE_BATCH_MS = 1;

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
  /** Checkpointing: this task's snapshot of checkpoint n is durable. */
  acknowledge?(checkpointId: number, state: TaskStateSnapshot): void;
  decline?(checkpointId: number, reason: ErrorRecord): void;
  /** Opens the checkpoint store rooted at a directory (default: the file system). */
  openStore?(root: string): CheckpointStore;
}

const KEYED_KINDS: readonly string[] = ['keyed-process', 'reduce'];
/** How long a task that ends waits for its sinks' running commits. */
const NOTIFY_WAIT_MS = 10_000;

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
  private backend: KeyedStateBackend | null = null;
  private sourceOutput: Collector<unknown> | null = null;
  /** Records per pollNext call: shrinks when the chain behind the source is slow (invariant 2). */
  private sourceBatch = SOURCE_BATCH;
  private barriers: BarrierHandler | null = null;
  /** Per input channel (all gates): items held back while alignment blocks the channel. */
  private blocked: InputItem[][] = [];
  /** Savepoint directories of barriers seen, by checkpoint id. */
  private readonly savepointOf = new Map<number, string>();
  private checkpointer: SubtaskCheckpointer | null = null;
  /** The keyed operator at the head of the chain: its key selector drives prefetching. */
  private prefetchKeys: ((value: unknown) => unknown) | null = null;
  private prefetching = false;
  /** Sink commits and aborts run one after the other. */
  private notifications: Promise<void> = Promise.resolve();

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
    const keyedOp = tdd.vertex.operators.find((op) => KEYED_KINDS.includes(op.kind));
    if (keyedOp !== undefined) {
      const range = keyGroupRange(tdd.maxParallelism, tdd.vertex.parallelism, tdd.subtask);
      this.backend = await createKeyedStateBackend(tdd.stateBackend ?? HEAP_FULL, tdd.maxParallelism, range, `${tdd.jobId}-${keyedOp.id}-${tdd.subtask}-${tdd.attempt}`);
      const handles = tdd.restore?.operators[keyedOp.id]?.keyed;
      const openStore = this.env.openStore === undefined ? undefined : (root: string): CheckpointStore => this.env.openStore!(root);
      if (handles !== undefined && handles.length > 0) await restoreKeyed(tdd.restore!, handles, this.backend, openStore);
      if (this.backend.kind !== 'heap' && tdd.vertex.operators[0] === keyedOp) this.prefetchKeys = keySelectorOf(this.userCode.get(keyedOp.id)) ?? null;
    }
    if (tdd.checkpointing !== undefined) {
      const env = this.env;
      this.checkpointer = new SubtaskCheckpointer(tdd, tdd.checkpointing, tdd.stateBackend ?? HEAP_FULL, {
        acknowledge: (id, state) => env.acknowledge?.(id, state),
        decline: (id, reason) => env.decline?.(id, reason),
        ...(env.openStore !== undefined ? { openStore: (root: string) => env.openStore!(root) } : {}),
      });
      if (this.openChannels > 0) {
        this.barriers = createBarrierHandler(tdd.checkpointing.mode, this.openChannels);
        this.blocked = Array.from({ length: this.openChannels }, () => []);
      }
    }
    this.chain = new OperatorChain(tdd.vertex, this.userCode, writers, (spec) => this.operatorContext(spec));
    await this.chain.open();
    if (this.chain.source !== null) {
      const restored = tdd.restore?.operators[tdd.vertex.operators[0]!.id]?.operatorState;
      this.reader = this.chain.source.source.createReader({ subtaskIndex: tdd.subtask, parallelism: tdd.vertex.parallelism, ...(restored !== undefined ? { restoredState: restored } : {}) });
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
    if (this.finishing || this.state !== 'running' || this.prefetching) return;
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
        const before = clock.monotonic();
        result = reader.pollNext(out, this.sourceBatch);
        const took = clock.monotonic() - before;
        // adapt the batch so that one call takes about SOURCE_BATCH_MS: event-loop turns stay short
        // (checkpoint uploads, credits and control messages each wait for a turn)
        if (took > SOURCE_BATCH_MS * 2 && this.sourceBatch > 1) this.sourceBatch = Math.max(1, this.sourceBatch >> 1);
        else if (took < SOURCE_BATCH_MS / 2 && this.sourceBatch < SOURCE_BATCH) this.sourceBatch = Math.min(SOURCE_BATCH, this.sourceBatch * 2);
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
        if (this.barriers !== null) {
          const channel = item.gate.firstChannel + item.channel;
          if (this.barriers.isBlocked(channel)) {
            this.blocked[channel]!.push(item);
            continue;
          }
        }
        if (item.records === null) {
          if (this.onEvent(item)) return this.endOfInput();
          continue;
        }
        records = this.current = item.records;
        this.currentItem = item;
        this.pos = 0;
        if (this.prefetchKeys !== null && this.prefetch(records)) return;
      }
      const n = records.length;
      while (this.pos < n) {
        if (!this.outputsAvailable()) return this.beginWait('backpressure');
        head.collect(records[this.pos++]);
        // a slow function must not hold the event loop for a whole buffer (heartbeats, credits)
        if ((this.pos & 15) === 0 && this.pos < n && clock.monotonic() - start >= SLICE_MS) return this.wake();
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
        if (this.barriers !== null) this.applyBarrierEffects(this.barriers.onEndOfPartition(gate.firstChannel + channel));
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
      case 'cancel-checkpoint': {
        if (this.barriers === null) {
          throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `edge ${gate.edge} channel ${channel}: ${event.kind} ${event.checkpointId} arrived, but checkpointing is not enabled for this job`);
        }
        const c = gate.firstChannel + channel;
        if (event.kind === 'checkpoint-barrier') {
          if (event.savepoint !== undefined) this.savepointOf.set(event.checkpointId, event.savepoint);
          this.applyBarrierEffects(this.barriers.onBarrier(c, event.checkpointId, event.timestamp));
        } else {
          this.applyBarrierEffects(this.barriers.onCancel(c, event.checkpointId));
        }
        return false;
      }
      default:
        throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `edge ${gate.edge} channel ${channel}: unknown event ${String((event as { kind?: unknown }).kind)}`);
    }
  }

  // ---- checkpoints ----

  /** A source is told to take checkpoint n (invariant 6). */
  triggerCheckpoint(checkpointId: number, timestamp: number, savepoint?: string): void {
    if (this.checkpointer === null) {
      this.env.decline?.(checkpointId, { code: 'TROUPE_CHECKPOINT_DECLINED', message: `task ${this.tdd.attemptId} does not take checkpoints` });
      return;
    }
    if (this.reader === null) {
      this.env.decline?.(checkpointId, { code: 'TROUPE_CHECKPOINT_DECLINED', message: `task ${this.tdd.attemptId} is not a source` });
      return;
    }
    // a source that finished, or is finishing, reports so at once: the coordinator then stops
    // triggering and aborts what is pending without counting it as a failure (Flink does not count
    // declines of finished tasks either)
    if (this.state !== 'running' || this.finishing) return;
    try {
      this.takeSnapshot(checkpointId, timestamp, savepoint);
      this.sendOutputs();
    } catch (error) {
      this.fail(error);
    }
  }

  /** The JobMaster announces the outcome of checkpoint n: sinks commit (or keep) their transactions. */
  notifyCheckpoint(checkpointId: number, outcome: 'complete' | 'aborted'): void {
    if (this.isTerminal() && this.state !== 'finished') return;
    this.checkpointer?.onOutcome(checkpointId, outcome);
    if (outcome === 'aborted' && this.barriers !== null && this.state === 'running') {
      // stop aligning for it: blocked channels go on, downstream is told to stop waiting too
      const effects = this.barriers.abort(checkpointId);
      if (effects.length > 0) {
        try {
          this.applyBarrierEffects(effects);
          this.sendOutputs();
          this.wake();
        } catch (error) {
          this.fail(error);
        }
      }
    }
    const writers = this.sinkWriters();
    if (writers.length === 0) return;
    this.notifications = this.notifications.then(async () => {
      for (const { name, writer } of writers) {
        try {
          if (outcome === 'complete') await writer.notifyCheckpointComplete?.(checkpointId);
          else await writer.notifyCheckpointAborted?.(checkpointId);
        } catch (error) {
          this.fail(new OperatorFailure(name, error));
          return;
        }
      }
    });
  }

  private applyBarrierEffects(effects: readonly BarrierEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'block':
          break;
        case 'release': {
          const released: InputItem[] = [];
          for (const c of e.channels) {
            released.push(...this.blocked[c]!);
            this.blocked[c] = [];
          }
          if (released.length > 0) {
            let rest = this.input.shift();
            while (rest !== undefined) {
              released.push(rest);
              rest = this.input.shift();
            }
            for (const item of released) this.input.push(item);
          }
          break;
        }
        case 'trigger-snapshot': {
          const savepoint = this.savepointOf.get(e.checkpointId);
          this.savepointOf.delete(e.checkpointId);
          this.takeSnapshot(e.checkpointId, e.timestamp, savepoint);
          break;
        }
        case 'abort':
          this.savepointOf.delete(e.checkpointId);
          if (e.reason !== 'external') {
            this.env.decline?.(e.checkpointId, { code: 'TROUPE_CHECKPOINT_DECLINED', message: `task ${this.tdd.attemptId} gave up checkpoint ${e.checkpointId}: ${e.reason}` });
          }
          for (const p of this.partitions) p.broadcastEvent({ kind: 'cancel-checkpoint', checkpointId: e.checkpointId });
          break;
      }
    }
  }

  /** The synchronous part of a snapshot, then the barrier goes downstream (invariant 1 of subtask-checkpointer.ts). */
  private takeSnapshot(checkpointId: number, timestamp: number, savepoint: string | undefined): void {
    const checkpointer = this.checkpointer!;
    const ops = this.tdd.vertex.operators;
    let keyed: SyncSnapshot['keyed'] = null;
    if (this.backend !== null) {
      const op = ops.find((o) => KEYED_KINDS.includes(o.kind))!;
      keyed = { operatorId: op.id, capture: checkpointer.capture(this.backend, checkpointId, savepoint) };
    }
    const operatorState: Array<SyncSnapshot['operatorState'][number]> = [];
    if (this.reader?.snapshotState !== undefined) {
      try {
        operatorState.push({ operatorId: ops[0]!.id, state: this.reader.snapshotState(checkpointId) });
      } catch (error) {
        throw new OperatorFailure(ops[0]!.name, error);
      }
    }
    for (const { id, name, writer } of this.sinkWriters()) {
      if (writer.snapshotState === undefined) continue;
      let state: Promise<readonly unknown[]>;
      try {
        state = writer.snapshotState(checkpointId);
      } catch (error) {
        throw new OperatorFailure(name, error);
      }
      state.catch(() => undefined); // the checkpointer reports it as a decline
      operatorState.push({ operatorId: id, state });
    }
    for (const p of this.partitions) p.broadcastEvent({ kind: 'checkpoint-barrier', checkpointId, timestamp, ...(savepoint !== undefined ? { savepoint } : {}) });
    checkpointer.complete(checkpointId, savepoint, { keyed, operatorState });
  }

  private sinkWriters(): Array<{ id: string; name: string; writer: SinkOperator['writer'] }> {
    const out: Array<{ id: string; name: string; writer: SinkOperator['writer'] }> = [];
    this.chain?.operators.forEach((op, i) => {
      if (op instanceof SinkOperator) out.push({ id: this.tdd.vertex.operators[i]!.id, name: this.tdd.vertex.operators[i]!.name, writer: op.writer });
    });
    return out;
  }

  /** Starts loading the keys of a buffer; true when the loop must wait for it (invariant 7). */
  private prefetch(records: readonly unknown[]): boolean {
    const select = this.prefetchKeys!;
    const keys: unknown[] = new Array<unknown>(records.length);
    for (let i = 0; i < records.length; i++) keys[i] = select(records[i]);
    const loading = this.backend!.prefetch(keys);
    if (loading === undefined) return false;
    this.prefetching = true;
    this.beginWait('idle');
    loading.then(
      () => {
        this.prefetching = false;
        this.wake();
      },
      (error: unknown) => this.fail(error),
    );
    return true;
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
      await this.checkpointer?.close();
      // a sink commit that never answers must not keep the task from ending
      await Promise.race([this.notifications, new Promise((resolve) => setTimeout(resolve, NOTIFY_WAIT_MS).unref())]);
      try {
        await this.chain?.close();
      } catch (closeError) {
        if (state === 'finished') {
          this.state = 'failed';
          await this.disposeBackend();
          return this.env.terminated('failed', closeError instanceof OperatorFailure ? operatorFailureRecord(closeError) : toErrorRecord(closeError));
        }
      }
      await this.disposeBackend();
      this.env.terminated(state, error);
    })();
    closing.catch((e: unknown) => console.error('[troupe] task termination failed', e));
  }

  private async disposeBackend(): Promise<void> {
    try {
      await this.backend?.dispose();
    } catch (error) {
      console.error(`[troupe] task ${this.tdd.attemptId}: disposing its keyed state backend failed`, error);
    }
  }

  private operatorContext(spec: OperatorSpec): OperatorContext {
    const { tdd } = this;
    return {
      jobId: tdd.jobId,
      operatorName: spec.name,
      subtaskIndex: tdd.subtask,
      parallelism: tdd.vertex.parallelism,
      maxParallelism: tdd.maxParallelism,
      attempt: tdd.attempt,
      checkpointing: tdd.checkpointing?.periodic === true,
      restoredOperatorState: tdd.restore?.operators[spec.id]?.operatorState,
      keyedStateBackend: () => {
        if (this.backend === null) throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `operator ${spec.name} (${spec.kind}) asked for keyed state, but its vertex has no keyed operator`);
        return this.backend;
      },
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
