import test from 'ava';
import type { ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId, JobId, OperatorId, VertexId } from '../../core/ids.js';
import { DEFAULT_NETWORK_CONFIG } from '../../core/job-graph.js';
import type { DataPlaneMessage } from '../../actors/protocol/data-plane.js';
import type { TaskDeploymentDescriptor } from '../../actors/protocol/deployment.js';
import { StreamTask } from '../../actors/task/stream-task.js';
import type { OperatorUserCode } from '../../actors/task/user-code.js';
import { fakeTaskEnvironment } from '../helpers/fake-task-environment.js';

const P0 = 'src#0@0' as ExecutionAttemptId;
const P1 = 'src#1@0' as ExecutionAttemptId;

function sinkTask(): { task: StreamTask; written: unknown[]; sent: Array<[ExecutionAttemptId, DataPlaneMessage]>; ended: Array<{ state: string; error?: ErrorRecord }>; run: () => void } {
  const written: unknown[] = [];
  const { env, sent, ended, run } = fakeTaskEnvironment();
  const tdd: TaskDeploymentDescriptor = {
    jobId: 'job' as JobId,
    jobName: 'test',
    attemptId: 'sink#0@0' as ExecutionAttemptId,
    vertex: {
      id: 'sink' as VertexId,
      name: 'Sink',
      parallelism: 1,
      maxParallelism: 128,
      operators: [{ id: 'sink' as OperatorId, name: 'Sink', kind: 'sink', outEdges: [], chainedOutputs: [] }],
    },
    subtask: 0,
    attempt: 0,
    maxParallelism: 128,
    network: DEFAULT_NETWORK_CONFIG,
    inputs: [{ edge: 'e0', partitioner: 'rebalance', producers: [P0, P1] }],
    outputs: [],
    locations: {},
  };
  const code = new Map<OperatorId, OperatorUserCode>([['sink' as OperatorId, { kind: 'sink', sink: { createWriter: () => ({ write: (v) => void written.push(v) }) } }]]);
  const task = new StreamTask(tdd, code, env);
  return { task, written, sent, ended, run };
}

test('stream task - announces exclusive credit to every producer on start', async (t) => {
  const { task, sent } = sinkTask();
  await task.open();
  task.start();
  t.deepEqual(
    sent.map(([to, m]) => [to, m.type === 'credit' ? m.credit : -1]),
    [
      [P0, 2],
      [P1, 2],
    ],
  );
});

test('stream task - consumes buffers, returns credit, finishes after end-of-partition on every channel', async (t) => {
  const { task, written, sent, ended, run } = sinkTask();
  await task.open();
  task.start();
  sent.length = 0;
  task.onData({ type: 'buffer', edge: 'e0', producer: 0, seq: 0, records: [1, 2], backlog: 0 });
  task.onData({ type: 'buffer', edge: 'e0', producer: 1, seq: 0, records: [3], backlog: 0 });
  run();
  t.deepEqual(written, [1, 2, 3]);
  t.deepEqual(
    sent.map(([to, m]) => [to, m.type === 'credit' ? m.credit : -1]),
    [
      [P0, 1],
      [P1, 1],
    ],
  );
  task.onData({ type: 'event', edge: 'e0', producer: 0, seq: 1, event: { kind: 'end-of-partition' } });
  run();
  t.is(task.state, 'running');
  task.onData({ type: 'event', edge: 'e0', producer: 1, seq: 1, event: { kind: 'end-of-partition' } });
  run();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(ended, [{ state: 'finished' }]);
  t.is(task.metrics().recordsIn, 3);
});

test('stream task - a gap in a channel sequence fails the task with TROUPE_CHANNEL_SEQUENCE', async (t) => {
  const { task, ended, written, run } = sinkTask();
  await task.open();
  task.start();
  task.onData({ type: 'buffer', edge: 'e0', producer: 1, seq: 1, records: ['late'], backlog: 0 });
  run();
  await new Promise((r) => setImmediate(r));
  t.is(ended.length, 1);
  t.is(ended[0]!.state, 'failed');
  t.is(ended[0]!.error?.code, 'TROUPE_CHANNEL_SEQUENCE');
  t.deepEqual(written, []);
  // later messages are ignored (invariant 5)
  task.onData({ type: 'buffer', edge: 'e0', producer: 0, seq: 0, records: ['x'], backlog: 0 });
  run();
  t.deepEqual(written, []);
  t.is(ended.length, 1);
});

test('stream task - a buffer beyond the announced credit is a protocol violation', async (t) => {
  const { task, ended, run } = sinkTask();
  await task.open();
  task.start();
  // channel 0 owns 2 exclusive slots and tops itself up from the gate's 8 floating ones (Flink:
  // required = backlog + exclusive); nothing is consumed meanwhile, so buffer 11 has no slot
  for (let seq = 0; seq < 10; seq++) task.onData({ type: 'buffer', edge: 'e0', producer: 0, seq, records: [seq], backlog: 0 });
  t.is(ended.length, 0);
  task.onData({ type: 'buffer', edge: 'e0', producer: 0, seq: 10, records: [10], backlog: 0 });
  run();
  await new Promise((r) => setImmediate(r));
  t.is(ended[0]?.error?.code, 'TROUPE_PROTOCOL_VIOLATION');
});
