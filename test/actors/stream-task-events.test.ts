/**
 * In-band events in StreamTask (actors/task/stream-task.ts), driven with a fake environment.
 * Cited:
 *  - watermark-valve invariants 1–3: the task's watermark is the minimum over its open input
 *    channels, never goes back, and is forwarded only when it advances
 *  - data-plane invariant 1: per channel, seq increases by one per buffer *or event*; a gap or a
 *    repeat fails the task (TROUPE_CHANNEL_SEQUENCE)
 *  - stream-task invariant 5: any error ends the task as failed exactly once
 * Checkpoint barriers are not supported yet: one arriving is a protocol violation.
 */
import test from 'ava';
import type { ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId, JobId, OperatorId, VertexId } from '../../core/ids.js';
import { DEFAULT_NETWORK_CONFIG } from '../../core/job-graph.js';
import type { NetworkEvent } from '../../actors/network/result-partition.js';
import type { DataPlaneMessage } from '../../actors/protocol/data-plane.js';
import type { TaskDeploymentDescriptor } from '../../actors/protocol/deployment.js';
import { StreamTask } from '../../actors/task/stream-task.js';
import type { OperatorUserCode } from '../../actors/task/user-code.js';
import { fakeTaskEnvironment } from '../helpers/fake-task-environment.js';

const P0 = 'src#0@0' as ExecutionAttemptId;
const P1 = 'src#1@0' as ExecutionAttemptId;
const C0 = 'sink#0@0' as ExecutionAttemptId;

interface Harness {
  readonly task: StreamTask;
  /** Everything the task sent, in order. */
  readonly sent: Array<[ExecutionAttemptId, DataPlaneMessage]>;
  readonly ended: Array<{ state: string; error?: ErrorRecord }>;
  /** Runs scheduled loop slices until none is left. */
  run(): void;
  /** Delivers one message from an upstream producer and runs the task. */
  deliver(message: DataPlaneMessage): void;
  watermark(producer: number, seq: number, timestamp: number): void;
  event(producer: number, seq: number, event: NetworkEvent): void;
}

/** A map task (x → x * 10) with two input channels on e0 (P0, P1) and one consumer C0 on e1. */
async function mapTask(): Promise<Harness> {
  const { env, sent, ended, run } = fakeTaskEnvironment();
  const tdd: TaskDeploymentDescriptor = {
    jobId: 'job' as JobId,
    jobName: 'test',
    attemptId: 'map#0@0' as ExecutionAttemptId,
    vertex: {
      id: 'map' as VertexId,
      name: 'Map',
      parallelism: 1,
      maxParallelism: 128,
      operators: [{ id: 'map' as OperatorId, name: 'Map', kind: 'map', outEdges: ['e1'], chainedOutputs: [] }],
    },
    subtask: 0,
    attempt: 0,
    maxParallelism: 128,
    network: DEFAULT_NETWORK_CONFIG,
    inputs: [{ edge: 'e0', partitioner: 'rebalance', producers: [P0, P1] }],
    outputs: [{ edge: 'e1', sourceOperator: 'map' as OperatorId, partitioner: 'rebalance', consumers: [C0] }],
    locations: {},
  };
  const code = new Map<OperatorId, OperatorUserCode>([['map' as OperatorId, { kind: 'map', fn: (x) => (x as number) * 10 }]]);
  const task = new StreamTask(tdd, code, env);
  const deliver = (message: DataPlaneMessage): void => {
    task.onData(message);
    run();
  };
  await task.open();
  task.start();
  run();
  return {
    task,
    sent,
    ended,
    run,
    deliver,
    event: (producer, seq, event) => deliver({ type: 'event', edge: 'e0', producer, seq, event }),
    watermark: (producer, seq, timestamp) => deliver({ type: 'event', edge: 'e0', producer, seq, event: { kind: 'watermark', timestamp } }),
  };
}

/** Downstream view: what reached C0 on e1 (credit messages to the producers are left out). */
function downstream(sent: ReadonlyArray<[ExecutionAttemptId, DataPlaneMessage]>): Array<{ seq: number; records?: unknown[]; event?: NetworkEvent }> {
  const out: Array<{ seq: number; records?: unknown[]; event?: NetworkEvent }> = [];
  for (const [to, m] of sent) {
    if (to !== C0) continue;
    if (m.type === 'event') out.push({ seq: m.seq, event: m.event });
    else if (m.type === 'buffer') out.push({ seq: m.seq, records: m.records as unknown[] });
  }
  return out;
}

const forwardedWatermarks = (sent: ReadonlyArray<[ExecutionAttemptId, DataPlaneMessage]>): number[] =>
  downstream(sent).flatMap((d) => (d.event?.kind === 'watermark' ? [d.event.timestamp] : []));

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// ---- watermarks (valve invariants 1–3) ----

test('stream task events - no watermark is forwarded while one input channel has sent none (valve invariant 1)', async (t) => {
  const h = await mapTask();
  h.watermark(0, 0, 10);
  h.watermark(0, 1, 20);
  t.deepEqual(forwardedWatermarks(h.sent), []);
  t.is(h.task.state, 'running');
});

test('stream task events - the watermark is forwarded downstream only when the minimum over both channels advances (valve invariant 3)', async (t) => {
  const h = await mapTask();
  h.watermark(0, 0, 10); // min -∞
  h.watermark(1, 0, 5); // min 5
  h.watermark(1, 1, 8); // min 8
  h.watermark(0, 1, 20); // min still 8
  h.watermark(1, 2, 30); // min 20
  h.watermark(1, 3, 25); // lower than channel 1's 30: ignored
  h.watermark(0, 2, 20); // repeated: nothing
  t.deepEqual(forwardedWatermarks(h.sent), [5, 8, 20]);
  t.deepEqual(
    downstream(h.sent).map((d) => [d.seq, d.event?.kind]),
    [
      [0, 'watermark'],
      [1, 'watermark'],
      [2, 'watermark'],
    ],
  );
  t.deepEqual(h.ended, []);
});

test('stream task events - forwarded watermarks are event messages on the output edge from this subtask, sent without credit', async (t) => {
  const h = await mapTask();
  h.watermark(0, 0, 7);
  h.watermark(1, 0, 7);
  const events = h.sent.filter(([, m]) => m.type === 'event');
  t.deepEqual(events, [[C0, { type: 'event', edge: 'e1', producer: 0, seq: 0, event: { kind: 'watermark', timestamp: 7 } }]]);
});

test('stream task events - a channel`s end-of-partition releases the watermark it held back (valve invariant 1)', async (t) => {
  const h = await mapTask();
  h.watermark(0, 0, 50);
  h.watermark(1, 0, 10);
  t.deepEqual(forwardedWatermarks(h.sent), [10]);
  h.event(1, 1, { kind: 'end-of-partition' });
  t.deepEqual(forwardedWatermarks(h.sent), [10, 50]);
  // the remaining channel alone now drives the watermark
  h.watermark(0, 1, 60);
  t.deepEqual(forwardedWatermarks(h.sent), [10, 50, 60]);
  t.is(h.task.state, 'running');
});

test('stream task events - a channel ending without any watermark releases the other channel`s watermark (valve invariant 1)', async (t) => {
  const h = await mapTask();
  h.watermark(0, 0, 40);
  h.event(1, 0, { kind: 'end-of-partition' });
  t.deepEqual(forwardedWatermarks(h.sent), [40]);
});

test('stream task events - the last channel ending forwards no watermark, only end-of-partition (valve invariant 3)', async (t) => {
  const h = await mapTask();
  h.deliver({ type: 'credit', edge: 'e1', consumer: 0, credit: 10 });
  h.watermark(0, 0, 50);
  h.watermark(1, 0, 10);
  h.event(1, 1, { kind: 'end-of-partition' });
  h.event(0, 1, { kind: 'end-of-partition' });
  await settle();
  h.run();
  t.deepEqual(
    downstream(h.sent).map((d) => [d.seq, d.event?.kind, d.event?.kind === 'watermark' ? d.event.timestamp : null]),
    [
      [0, 'watermark', 10],
      [1, 'watermark', 50],
      [2, 'end-of-partition', null],
    ],
  );
  await settle();
  t.deepEqual(h.ended, [{ state: 'finished' }]);
});

test('stream task events - records received before a watermark reach downstream before it (partial buffers are flushed first)', async (t) => {
  const h = await mapTask();
  h.deliver({ type: 'credit', edge: 'e1', consumer: 0, credit: 10 });
  h.deliver({ type: 'buffer', edge: 'e0', producer: 0, seq: 0, records: [1, 2], backlog: 0 });
  h.deliver({ type: 'buffer', edge: 'e0', producer: 1, seq: 0, records: [3], backlog: 0 });
  t.deepEqual(downstream(h.sent), []); // a partial buffer of 3 records waits for the buffer timeout
  h.watermark(0, 1, 100);
  h.watermark(1, 1, 100);
  t.deepEqual(downstream(h.sent), [
    { seq: 0, records: [10, 20, 30] },
    { seq: 1, event: { kind: 'watermark', timestamp: 100 } },
  ]);
});

test('stream task events - records and watermarks leave in input order, also when end-of-partition releases a watermark', async (t) => {
  const h = await mapTask();
  h.deliver({ type: 'credit', edge: 'e1', consumer: 0, credit: 10 });
  // delivered without running the loop in between: the task must process them in order
  h.task.onData({ type: 'event', edge: 'e0', producer: 1, seq: 0, event: { kind: 'watermark', timestamp: 3 } });
  h.task.onData({ type: 'buffer', edge: 'e0', producer: 0, seq: 0, records: [1], backlog: 0 });
  h.task.onData({ type: 'event', edge: 'e0', producer: 0, seq: 1, event: { kind: 'watermark', timestamp: 5 } });
  h.task.onData({ type: 'buffer', edge: 'e0', producer: 0, seq: 2, records: [2], backlog: 0 });
  h.task.onData({ type: 'event', edge: 'e0', producer: 1, seq: 1, event: { kind: 'end-of-partition' } });
  h.run();
  // wm 5 on channel 0 moves the minimum to channel 1's 3; channel 1 ending releases 5
  t.deepEqual(downstream(h.sent), [
    { seq: 0, records: [10] },
    { seq: 1, event: { kind: 'watermark', timestamp: 3 } },
    { seq: 2, records: [20] },
    { seq: 3, event: { kind: 'watermark', timestamp: 5 } },
  ]);
  t.deepEqual(h.ended, []);
});

// ---- checkpoint events (not enabled yet) ----

test('stream task events - a checkpoint barrier fails the task with TROUPE_PROTOCOL_VIOLATION (checkpointing not enabled)', async (t) => {
  const h = await mapTask();
  h.event(0, 0, { kind: 'checkpoint-barrier', checkpointId: 1, timestamp: 1000 });
  await settle();
  t.is(h.ended.length, 1);
  t.is(h.ended[0]!.state, 'failed');
  t.is(h.ended[0]!.error?.code, 'TROUPE_PROTOCOL_VIOLATION');
  t.regex(h.ended[0]!.error?.message ?? '', /checkpoint-barrier 1 arrived/);
  t.is(h.task.state, 'failed');
});

test('stream task events - a cancel-checkpoint marker fails the task with TROUPE_PROTOCOL_VIOLATION (checkpointing not enabled)', async (t) => {
  const h = await mapTask();
  h.event(1, 0, { kind: 'cancel-checkpoint', checkpointId: 7 });
  await settle();
  t.deepEqual(
    h.ended.map((e) => [e.state, e.error?.code]),
    [['failed', 'TROUPE_PROTOCOL_VIOLATION']],
  );
});

test('stream task events - after a barrier failed the task, later events are ignored (stream-task invariant 5)', async (t) => {
  const h = await mapTask();
  h.event(0, 0, { kind: 'checkpoint-barrier', checkpointId: 1, timestamp: 0 });
  h.watermark(0, 1, 10);
  h.watermark(1, 0, 10);
  h.event(1, 1, { kind: 'checkpoint-barrier', checkpointId: 1, timestamp: 0 });
  await settle();
  t.is(h.ended.length, 1);
  t.deepEqual(forwardedWatermarks(h.sent), []);
});

// ---- sequence numbers (data-plane invariant 1) ----

test('stream task events - events and buffers share one sequence per channel (data-plane invariant 1)', async (t) => {
  const h = await mapTask();
  h.deliver({ type: 'credit', edge: 'e1', consumer: 0, credit: 10 }); // the watermark waits behind flushed data
  h.deliver({ type: 'buffer', edge: 'e0', producer: 0, seq: 0, records: [1], backlog: 0 });
  h.watermark(0, 1, 5);
  h.deliver({ type: 'buffer', edge: 'e0', producer: 0, seq: 2, records: [2], backlog: 0 });
  h.watermark(0, 3, 6);
  h.watermark(1, 0, 6); // channel 1 counts on its own
  await settle();
  t.deepEqual(h.ended, []);
  t.deepEqual(forwardedWatermarks(h.sent), [6]);
});

test('stream task events - a gap before an event fails the task with TROUPE_CHANNEL_SEQUENCE (data-plane invariant 1)', async (t) => {
  const h = await mapTask();
  h.watermark(0, 0, 5);
  h.watermark(0, 2, 6); // seq 1 missing
  await settle();
  t.is(h.ended.length, 1);
  t.is(h.ended[0]!.state, 'failed');
  t.is(h.ended[0]!.error?.code, 'TROUPE_CHANNEL_SEQUENCE');
  t.regex(h.ended[0]!.error?.message ?? '', /expected seq 1, got 2/);
});

test('stream task events - an event repeating the seq of a buffer fails the task with TROUPE_CHANNEL_SEQUENCE (data-plane invariant 1)', async (t) => {
  const h = await mapTask();
  h.deliver({ type: 'buffer', edge: 'e0', producer: 1, seq: 0, records: [1], backlog: 0 });
  h.watermark(1, 0, 5);
  await settle();
  t.deepEqual(
    h.ended.map((e) => [e.state, e.error?.code]),
    [['failed', 'TROUPE_CHANNEL_SEQUENCE']],
  );
});

test('stream task events - an end-of-partition out of sequence fails the task instead of ending the channel (data-plane invariant 1)', async (t) => {
  const h = await mapTask();
  h.watermark(0, 0, 50);
  h.event(1, 1, { kind: 'end-of-partition' }); // seq 0 expected
  await settle();
  t.is(h.ended[0]?.error?.code, 'TROUPE_CHANNEL_SEQUENCE');
  t.deepEqual(forwardedWatermarks(h.sent), []);
});

test('stream task events - forwarded events and buffers carry consecutive sequence numbers downstream (data-plane invariant 1)', async (t) => {
  const h = await mapTask();
  h.deliver({ type: 'credit', edge: 'e1', consumer: 0, credit: 10 });
  let seq0 = 0;
  let seq1 = 0;
  for (let round = 1; round <= 5; round++) {
    h.deliver({ type: 'buffer', edge: 'e0', producer: 0, seq: seq0++, records: [round], backlog: 0 });
    h.watermark(0, seq0++, round * 10);
    h.watermark(1, seq1++, round * 10);
  }
  const out = downstream(h.sent);
  t.deepEqual(
    out.map((d) => d.seq),
    out.map((_, i) => i),
  );
  t.deepEqual(forwardedWatermarks(h.sent), [10, 20, 30, 40, 50]);
  t.deepEqual(
    out.flatMap((d) => d.records ?? []),
    [10, 20, 30, 40, 50],
  );
});

// ---- after end-of-partition (data-plane invariant 3: end-of-partition is the last item of a channel) ----

test('stream task events - a second end-of-partition on a channel fails the task with TROUPE_PROTOCOL_VIOLATION (data-plane invariant 3)', async (t) => {
  const h = await mapTask();
  h.event(0, 0, { kind: 'end-of-partition' });
  h.event(0, 1, { kind: 'end-of-partition' });
  await settle();
  t.is(h.ended[0]?.error?.code, 'TROUPE_PROTOCOL_VIOLATION');
});

// BUG (reported, not fixed): StreamTask.onData checks only the seq of an item arriving after its
// channel's end-of-partition; onEvent rejects a second end-of-partition but a watermark is passed
// to the valve (which ignores ended channels) and a buffer is consumed and its records processed.
test('stream task events - a watermark after its channel`s end-of-partition fails the task with TROUPE_PROTOCOL_VIOLATION (data-plane invariant 3)', async (t) => {
  const h = await mapTask();
  h.event(0, 0, { kind: 'end-of-partition' });
  h.watermark(0, 1, 10);
  await settle();
  t.is(h.ended[0]?.error?.code, 'TROUPE_PROTOCOL_VIOLATION');
});

test('stream task events - a buffer after its channel`s end-of-partition fails the task with TROUPE_PROTOCOL_VIOLATION (data-plane invariant 3)', async (t) => {
  const h = await mapTask();
  h.deliver({ type: 'credit', edge: 'e1', consumer: 0, credit: 10 });
  h.event(0, 0, { kind: 'end-of-partition' });
  h.deliver({ type: 'buffer', edge: 'e0', producer: 0, seq: 1, records: [99], backlog: 0 });
  h.watermark(1, 0, 5); // flushes whatever the task emitted
  await settle();
  t.is(h.ended[0]?.error?.code, 'TROUPE_PROTOCOL_VIOLATION');
  t.false(downstream(h.sent).some((d) => d.records?.includes(990) === true), 'records after end-of-partition were processed');
});
