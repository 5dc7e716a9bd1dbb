/** The keyed process operator sweeps expired TTL state on the backend's clock (actors/task/operators/keyed-process-operator.ts). */
import test from 'ava';
import { KeyedProcessOperator, TTL_SWEEP_INTERVAL_MS } from '../../actors/task/operators/keyed-process-operator.js';
import type { OperatorContext } from '../../actors/task/operators/stream-operator.js';
import type { KeyedProcessFunction } from '../../api/datastream/functions.js';
import type { JobId } from '../../core/ids.js';
import { backendWith } from './backend-fixture.js';

function operatorOver(fn: KeyedProcessFunction<unknown, unknown, unknown>) {
  const { backend, clock } = backendWith();
  const ctx: OperatorContext = {
    jobId: 'job' as JobId,
    operatorName: 'P',
    subtaskIndex: 0,
    parallelism: 1,
    maxParallelism: 128,
    attempt: 0,
    checkpointing: false,
    restoredOperatorState: undefined,
    keyedStateBackend: () => backend,
    collect: () => undefined,
  };
  const out: unknown[] = [];
  const operator = new KeyedProcessOperator(fn, (x) => x, ctx, { collect: (v) => out.push(v) });
  return { operator, backend, clock, out };
}

const remember: KeyedProcessFunction<unknown, unknown, unknown> = {
  processElement(value, ctx) {
    ctx.runtime.getState({ name: 'seen', ttl: { ttlMs: 1_000 } }).update(value);
  },
};

test('ttl sweep - expired state of keys never read again is removed once the sweep interval has passed', (t) => {
  const { operator, backend, clock } = operatorOver(remember);
  for (let k = 0; k < 100; k++) operator.processElement(`old-${k}`);
  clock.advance(TTL_SWEEP_INTERVAL_MS);
  for (let k = 0; k < 1024; k++) operator.processElement(k % 10);
  t.deepEqual(backend.sizes(), { seen: 10 });
});

test('ttl sweep - before the interval has passed nothing is swept', (t) => {
  const { operator, backend, clock } = operatorOver(remember);
  for (let k = 0; k < 100; k++) operator.processElement(`old-${k}`);
  clock.advance(TTL_SWEEP_INTERVAL_MS - 1);
  for (let k = 0; k < 2048; k++) operator.processElement(k % 10);
  t.deepEqual(backend.sizes(), { seen: 110 });
});

test('keyed process operator - the runtime context hands out every state kind, scoped to the record key', (t) => {
  const fn: KeyedProcessFunction<unknown, unknown, unknown> = {
    processElement(value, ctx, out) {
      const r = ctx.runtime;
      r.getState<number>({ name: 'v' }).update(1);
      r.getListState<unknown>({ name: 'l' }).add(value);
      r.getMapState<unknown, number>({ name: 'm' }).put(value, 1);
      r.getReducingState<number>({ name: 'r', reduceFunction: (a, b) => a + b }).add(1);
      r.getAggregatingState({ name: 'a', aggregateFunction: { createAccumulator: () => 0, add: (_: unknown, n: number) => n + 1, getResult: (n: number) => n } }).add(value);
      out.collect([ctx.getCurrentKey(), r.getListState({ name: 'l' }).get()]);
    },
  };
  const { operator, backend, out } = operatorOver(fn);
  operator.processElement('a');
  operator.processElement('b');
  operator.processElement('a');
  t.deepEqual(out, [['a', ['a']], ['b', ['b']], ['a', ['a', 'a']]]);
  t.deepEqual(backend.sizes(), { v: 2, l: 2, m: 2, r: 2, a: 2 });
});
