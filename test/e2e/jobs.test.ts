import test from 'ava';
import {
  CollectSink,
  DiscardingSink,
  MiniCluster,
  StreamExecutionEnvironment,
  TroupeError,
  type KeyedProcessFunction,
  type SinkWriter,
} from '../../index.js';

test('word count - final count per word equals the hand count, parallelism 2', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 2 });
  const lines = ['the quick brown fox', 'jumps over the lazy dog', 'the end'];
  const counts = env
    .fromCollection(lines)
    .flatMap((l) => l.split(' '))
    .map((w) => ({ word: w, n: 1 }))
    .keyBy((r) => r.word)
    .sum('n');
  const out = await env.executeAndCollect(counts);
  const final = new Map<string, number>();
  for (const r of out) final.set(r.word, Math.max(final.get(r.word) ?? 0, r.n));
  t.is(out.length, 11);
  t.deepEqual(Object.fromEntries([...final].sort()), { brown: 1, dog: 1, end: 1, fox: 1, jumps: 1, lazy: 1, over: 1, quick: 1, the: 3 });
});

test('keyed state - running sums per key at parallelism 4 match a hand computation', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 4 });
  const summer: KeyedProcessFunction<number, number, [number, number]> = {
    processElement(value, ctx, out) {
      const state = ctx.runtime.getState<number>({ name: 'sum', defaultValue: 0 });
      const sum = (state.value() ?? 0) + value;
      state.update(sum);
      out.collect([ctx.getCurrentKey(), sum]);
    },
  };
  const stream = env
    .fromSequence(1, 20_000)
    .keyBy((n) => n % 7)
    .process(summer);
  const out = await env.executeAndCollect(stream);
  t.is(out.length, 20_000);
  // per key the sums are strictly increasing (records of one key stay in order) and end at the hand total
  const expected = new Map<number, number>();
  for (let n = 1; n <= 20_000; n++) expected.set(n % 7, (expected.get(n % 7) ?? 0) + n);
  const last = new Map<number, number>();
  for (const [k, s] of out) {
    t.true(s > (last.get(k) ?? 0));
    last.set(k, s);
  }
  t.deepEqual([...last].sort(), [...expected].sort());
});

test('parallelism 4 - a multi-stage job produces exactly the hand-computed multiset', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 4, bufferTimeoutMs: 5 });
  const stream = env
    .fromSequence(0, 9_999)
    .filter((n) => n % 3 !== 0)
    .map((n) => n * 2)
    .rebalance()
    .flatMap((n) => (n % 10 === 0 ? [n, n + 1] : [n]))
    .keyBy((n) => n % 13)
    .reduce((a, b) => a + b);
  const out = await env.executeAndCollect(stream);
  const inputs: number[] = [];
  for (let n = 0; n <= 9_999; n++) {
    if (n % 3 === 0) continue;
    const m = n * 2;
    inputs.push(m);
    if (m % 10 === 0) inputs.push(m + 1);
  }
  t.is(out.length, inputs.length);
  const totals = new Map<number, number>();
  for (const m of inputs) totals.set(m % 13, (totals.get(m % 13) ?? 0) + m);
  const outSet = new Set(out);
  for (const total of totals.values()) t.true(outSet.has(total), `final sum ${total} present`);
});

test('union - records of all inputs arrive exactly once', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 3 });
  const a = env.fromCollection([1, 2, 3]);
  const b = env.fromSequence(100, 199);
  const c = env.fromCollection(['x', 'y']).map((s) => s.length * 1000);
  const out = await env.executeAndCollect(a.union(b, c).map((x) => x + 1));
  const expected = [2, 3, 4, ...Array.from({ length: 100 }, (_, i) => 101 + i), 1001, 1001];
  t.deepEqual([...out].sort((x, y) => x - y), expected.sort((x, y) => x - y));
});

test('broadcast - every downstream subtask sees every record', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 3 });
  const out = await env.executeAndCollect(env.fromCollection(['a', 'b']).broadcast().map((x) => x.toUpperCase()));
  t.deepEqual([...out].sort(), ['A', 'A', 'A', 'B', 'B', 'B']);
});

test('buffer timeout - 0 (every record) and -1 (only when full) both deliver everything', async (t) => {
  for (const bufferTimeoutMs of [0, -1]) {
    const env = StreamExecutionEnvironment.create({ parallelism: 2, bufferTimeoutMs });
    const out = await env.executeAndCollect(env.fromSequence(1, 3000).rebalance().map((x) => x));
    t.is(out.length, 3000, `timeout ${bufferTimeoutMs}`);
    t.is(new Set(out).size, 3000);
  }
});

test('execute - result carries job id, duration and per-operator record counts', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 2 });
  env.fromSequence(1, 1000).map((x) => x).name('Double').filter((x) => x % 2 === 0).name('Evens').sinkTo(new DiscardingSink(), 'Out');
  const result = await env.execute('counts');
  t.is(result.status, 'finished');
  t.regex(result.jobId, /^[0-9a-f]{32}$/);
  t.true(result.durationMs >= 0);
  t.deepEqual(result.recordsOf('Double'), { recordsIn: 1000, recordsOut: 1000 });
  t.deepEqual(result.recordsOf('Evens'), { recordsIn: 1000, recordsOut: 500 });
  t.deepEqual(result.recordsOf('Out'), { recordsIn: 500, recordsOut: 0 });
  t.is(result.tasks.length, 2);
  for (const task of result.tasks) {
    t.is(task.state, 'finished');
    t.true(task.busyRatio >= 0 && task.busyRatio <= 1);
  }
});

test('failure - a throwing user function fails the job with the operator name and the cause', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 2 });
  env
    .fromSequence(1, 100_000)
    .rebalance()
    .map((x) => {
      if (x === 4242) throw new RangeError('no 4242 please');
      return x;
    })
    .name('Picky')
    .sinkTo(new DiscardingSink());
  const error = await t.throwsAsync(env.execute('failing'), { instanceOf: TroupeError });
  t.is(error.code, 'TROUPE_USER_FUNCTION_FAILED');
  t.is(error.operator, 'Picky');
  t.is(error.causeRecord?.name, 'RangeError');
  t.regex(error.message, /Picky.*no 4242 please/);
});

test('failure - a failing sink open fails the job cleanly', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 1 });
  env.fromCollection([1]).sinkTo(
    {
      createWriter: (): SinkWriter<number> => ({
        open: () => {
          throw new Error('cannot open');
        },
        write: () => undefined,
      }),
    },
    'BadSink',
  );
  const error = await t.throwsAsync(env.execute(), { instanceOf: TroupeError });
  t.is(error.code, 'TROUPE_USER_FUNCTION_FAILED');
  t.is(error.operator, 'BadSink');
});

test('bad input - a non-serializable key fails the job with TROUPE_KEY_NOT_SERIALIZABLE', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 2 });
  env
    .fromCollection([1, 2, 3])
    .keyBy(() => Symbol('nope'))
    .reduce((a, b) => a + b)
    .sinkTo(new DiscardingSink());
  const error = await t.throwsAsync(env.execute(), { instanceOf: TroupeError });
  t.is(error.code, 'TROUPE_KEY_NOT_SERIALIZABLE');
  t.regex(error.message, /Symbol\(nope\)/);
});

test('bad input - no sink, parallelism 0 and above max parallelism get coded errors', async (t) => {
  const env = StreamExecutionEnvironment.create();
  env.fromCollection([1]).map((x) => x);
  await t.throwsAsync(env.execute(), { code: 'TROUPE_JOB_HAS_NO_SINK' } as never);
  t.throws(() => StreamExecutionEnvironment.create({ parallelism: 0 }), { code: 'TROUPE_INVALID_PARALLELISM' } as never);
  t.throws(() => StreamExecutionEnvironment.create({ parallelism: 129 }), { code: 'TROUPE_INVALID_PARALLELISM' } as never);
  t.throws(() => StreamExecutionEnvironment.create({ maxParallelism: 8 }).fromSequence(1, 2).setParallelism(9), { code: 'TROUPE_INVALID_PARALLELISM' } as never);
  t.throws(() => StreamExecutionEnvironment.create().fromSequence(5, 1), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  t.throws(() => StreamExecutionEnvironment.create({ bufferTimeoutMs: -5 }), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('slots - a job larger than the cluster fails with TROUPE_NOT_ENOUGH_SLOTS and frees nothing it did not take', async (t) => {
  const cluster = await MiniCluster.start({ taskExecutors: 1, slotsPerTaskExecutor: 2 });
  try {
    const env = StreamExecutionEnvironment.create({ parallelism: 3, cluster });
    env.fromSequence(1, 10).sinkTo(new DiscardingSink());
    await t.throwsAsync(env.execute(), { code: 'TROUPE_NOT_ENOUGH_SLOTS' } as never);
    t.like(await cluster.overview(), { taskExecutors: 1, slotsTotal: 2, slotsFree: 2 });
    // the cluster still runs jobs that fit
    const ok = StreamExecutionEnvironment.create({ parallelism: 2, cluster });
    t.is((await ok.executeAndCollect(ok.fromSequence(1, 10))).length, 10);
    t.like(await cluster.overview(), { taskExecutors: 1, slotsTotal: 2, slotsFree: 2 });
  } finally {
    await cluster.close();
  }
});

test('cancel - a running unbounded-ish job is cancelled and frees its slots', async (t) => {
  const cluster = await MiniCluster.start({ taskExecutors: 2, slotsPerTaskExecutor: 2 });
  try {
    const env = StreamExecutionEnvironment.create({ parallelism: 2, cluster });
    env.fromSequence(1, Number.MAX_SAFE_INTEGER - 1, { ratePerSecond: 10_000 }).keyBy((x) => x % 5).reduce((a, b) => a + b).sinkTo(new DiscardingSink());
    const { graph, userCode } = env.build('forever');
    const jobId = await cluster.submit(graph, userCode);
    let status = (await cluster.status(jobId)).status;
    while (status !== 'running') {
      await new Promise((r) => setTimeout(r, 10));
      status = (await cluster.status(jobId)).status;
    }
    const running = await cluster.status(jobId);
    // 2 source subtasks + 2 (reduce -> sink) subtasks, each reported by its live JobMaster
    t.is(running.tasks.length, 4);
    t.true(running.tasks.every((task) => task.state === 'running'));
    await cluster.cancel(jobId);
    const result = await cluster.result(jobId, 10_000);
    t.is(result.status, 'cancelled');
    const after = await cluster.status(jobId);
    t.is(after.status, 'cancelled');
    t.deepEqual(after.tasks.map((task) => task.state), ['canceled', 'canceled', 'canceled', 'canceled']);
    t.like(await cluster.overview(), { taskExecutors: 2, slotsTotal: 4, slotsFree: 4 });
  } finally {
    await cluster.close();
  }
});

test('backpressure - a slow sink slows the source and buffers in flight stay bounded', async (t) => {
  const cluster = await MiniCluster.start({ slotsPerTaskExecutor: 2 });
  try {
    const env = StreamExecutionEnvironment.create({ parallelism: 2, cluster, network: { bufferRecords: 64 } });
    const slow: SinkWriter<number> = {
      write: () => {
        const until = performance.now() + 0.05;
        while (performance.now() < until) {
          /* a sink that takes 50 µs per record */
        }
      },
    };
    env.fromSequence(1, 1_000_000).rebalance().sinkTo({ createWriter: () => slow }, 'Slow');
    const { graph, userCode } = env.build('slow sink');
    const jobId = await cluster.submit(graph, userCode);
    await new Promise((r) => setTimeout(r, 1500));
    const metrics = await cluster.metrics(jobId);
    await cluster.cancel(jobId);
    await cluster.result(jobId, 10_000);
    const sources = metrics.filter((m) => m.vertex === graph.vertices[0]!.id);
    const sinks = metrics.filter((m) => m.vertex !== graph.vertices[0]!.id);
    const produced = sources.reduce((n, m) => n + m.recordsOut, 0);
    const consumed = sinks.reduce((n, m) => n + m.recordsIn, 0);
    // pool per source partition: max(2+1, 2*2+8) = 12 buffers; each sink gate: 2 channels * 2 + 8 = 12;
    // plus the bounded overdraft of one source poll batch (256 records) per source subtask
    const bound = 2 * 12 * 64 + 2 * 12 * 64 + 2 * 256;
    t.true(produced - consumed <= bound, `in flight ${produced - consumed} <= ${bound}`);
    t.true(produced < 1_000_000, 'the source did not run ahead to the end');
    for (const s of sources) t.true(s.backpressuredRatio > 0.5, `source backpressured ${s.backpressuredRatio}`);
    for (const m of metrics) t.true(m.buffersInFlight <= 24, `buffers in flight ${m.buffersInFlight}`);
  } finally {
    await cluster.close();
  }
});

test('collect sink - in a job module, CollectSink marks the records the client receives', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 2 });
  env.fromSequence(1, 50).sinkTo(new CollectSink<number>(7), 'Collected').uid('collected');
  const result = await env.execute();
  t.deepEqual(((result.collected['collected'] ?? []) as number[]).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
});
