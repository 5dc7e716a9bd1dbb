/**
 * Benchmarks (figures and ratios, never pass/fail):
 *   npm run bench -- nexmark q0|q1|q2 [--events N] [--parallelism P]
 *   npm run bench -- keyed [--events N]           q1 → keyBy(auction) → running count, parallelism 2
 *   npm run bench -- backpressure [--seconds S]   source 10× faster than the sink; RSS over time
 *   npm run bench -- checkpoint-size [--keys N]   heap keyed state: full vs incremental checkpoint, restore
 *   npm run bench -- checkpoint-overhead [--events N] [--runs R]   keyed job without vs with checkpoints every 1 s (default 10 M events)
 *   npm run bench -- restore-time [--sizes 100,1000]   full checkpoint write and restore (heap, sqlite) vs state MiB
 * On a forked cluster (JobManager here, two TaskExecutor child processes; see distributed.ts):
 *   npm run bench -- distributed-keyed [--events N] [--runs R]
 *   npm run bench -- distributed-latency [--seconds S] [--runs R] [--events N] [--rate R] [--pad B]
 *   npm run bench -- distributed-mismatch [--seconds S] [--rate R] [--pad B]
 *   (each also takes --network JSON, the cluster's network settings, e.g. '{"floatingCredits":32}', and
 *   --profile DIR: CPU profiles of the TaskExecutor processes, summarized at the end)
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DiscardingSink, StreamExecutionEnvironment } from '../index.js';
import { loadJobModule } from '../api/cli/job-module.js';
import { NexmarkGenerator } from '../api/nexmark/generator.js';
import { BID } from '../api/nexmark/model.js';
import { nexmarkEvents, q0, q1, q2, toCurrency } from '../api/nexmark/queries.js';
import { checkpointSize } from './checkpoint-size.js';
import { checkpointOverhead } from './checkpoint-overhead.js';
import { restoreTime } from './restore-time.js';
import { blackholeValue, forLoopBaseline, pipelineBaseline, type QueryName } from './nexmark-baselines.js';
import { distributedKeyed, distributedLatency, distributedMismatch, setClusterNetwork } from './distributed.js';

const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} K`);

async function engineNexmark(query: QueryName, events: number, parallelism: number): Promise<{ eventsPerSecond: number; outputs: number }> {
  const env = StreamExecutionEnvironment.create({ parallelism });
  const source = nexmarkEvents(env, { maxEvents: events });
  const stream = query === 'q0' ? q0(source) : query === 'q1' ? q1(source) : q2(source);
  stream.sinkTo(new DiscardingSink(), 'Discard');
  const start = performance.now();
  const result = await env.execute(`nexmark ${query}`);
  const seconds = (performance.now() - start) / 1000;
  return { eventsPerSecond: events / seconds, outputs: result.recordsOf('Discard')?.recordsIn ?? 0 };
}

async function nexmark(query: QueryName, events: number, parallelism: number): Promise<void> {
  console.log(`Nexmark ${query}: ${fmt(events)} events, engine parallelism ${parallelism} (chained), Node ${process.version}`);
  // warm-up: JIT for all three contenders
  await engineNexmark(query, Math.min(events, 1_000_000), parallelism);
  forLoopBaseline(query, Math.min(events, 1_000_000));
  await pipelineBaseline(query, Math.min(events, 200_000));
  const engine = await engineNexmark(query, events, parallelism);
  const loop = forLoopBaseline(query, events);
  const pipe = await pipelineBaseline(query, Math.min(events, 5_000_000));
  console.log(`  engine           ${fmt(engine.eventsPerSecond)} events/s  (${engine.outputs} outputs)`);
  console.log(`  for-loop         ${fmt(loop.eventsPerSecond)} events/s  (${loop.outputs} outputs)`);
  console.log(`  stream.pipeline  ${fmt(pipe.eventsPerSecond)} events/s  (${pipe.outputs} outputs)`);
  console.log(`  ratio engine / for-loop        ${(engine.eventsPerSecond / loop.eventsPerSecond).toFixed(2)}  (target >= 0.70 at parallelism 1)`);
  console.log(`  ratio engine / stream.pipeline ${(engine.eventsPerSecond / pipe.eventsPerSecond).toFixed(2)}  (target >= 1.5)`);
  console.log(`  (blackhole ${blackholeValue().toExponential(3)})`);
}

/** The keyed pipeline is the job module the distributed bench ships, so both measure one job. */
const KEYED_JOB = path.resolve(__dirname, '..', '..', 'bench', 'jobs', 'nexmark-keyed-count.ts');

async function keyed(events: number): Promise<void> {
  console.log(`Keyed: Nexmark q1 -> keyBy(auction) -> running count, ${fmt(events)} events, parallelism 2 (embedded, one thread)`);
  const job = await loadJobModule(KEYED_JOB);
  const run = async (n: number): Promise<number> => {
    const env = StreamExecutionEnvironment.create({ parallelism: 2 });
    await job(env, [String(n)]);
    const start = performance.now();
    await env.execute('keyed');
    return n / ((performance.now() - start) / 1000);
  };
  const loop = (n: number): number => {
    const g = new NexmarkGenerator({ maxEvents: n });
    const counts = new Map<number, number>();
    let sink = 0;
    const start = performance.now();
    while (g.hasNext()) {
      const e = g.next();
      if (e.type !== BID) continue;
      const converted = toCurrency(e);
      const c = (counts.get(converted.auction) ?? 0) + 1;
      counts.set(converted.auction, c);
      sink += c;
    }
    if (sink < 0) console.log(sink);
    return n / ((performance.now() - start) / 1000);
  };
  await run(Math.min(events, 500_000));
  loop(Math.min(events, 500_000));
  const engine = await run(events);
  const base = loop(events);
  console.log(`  engine    ${fmt(engine)} events/s`);
  console.log(`  for-loop  ${fmt(base)} events/s (the same q1 conversion + a Map count, single thread)`);
  console.log(`  ratio engine / for-loop ${(engine / base).toFixed(2)}`);
}

async function backpressure(seconds: number): Promise<void> {
  const sourceRate = 200_000;
  const sinkMicros = 50; // the sink manages ~20 K records/s: the source is 10x faster
  console.log(`Backpressure: source ${fmt(sourceRate)} records/s, sink ${sinkMicros} µs/record (~${fmt(1e6 / sinkMicros)}/s), ${seconds} s, parallelism 2`);
  const env = StreamExecutionEnvironment.create({ parallelism: 2 });
  let consumed = 0;
  env
    .fromSequence(1, Number.MAX_SAFE_INTEGER - 1, { ratePerSecond: sourceRate })
    .map((n) => ({ n, payload: 'x'.repeat(100) }))
    .rebalance()
    .sinkTo(
      {
        createWriter: () => ({
          write: () => {
            consumed++;
            const until = performance.now() + sinkMicros / 1000;
            while (performance.now() < until) {
              /* slow sink */
            }
          },
        }),
      },
      'Slow Sink',
    );
  const { MiniCluster } = await import('../actors/mini-cluster.js');
  const cluster = await MiniCluster.start({ slotsPerTaskExecutor: 2 });
  const { graph, userCode } = env.build('backpressure');
  const jobId = await cluster.submit(graph, userCode);
  const samples: number[] = [];
  const t0 = performance.now();
  for (let s = 1; s <= seconds; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    const rss = process.memoryUsage().rss / 2 ** 20;
    samples.push(rss);
    if (s % 2 === 0 || s === seconds) {
      const m = await cluster.metrics(jobId);
      const src = m.filter((x) => x.vertex === graph.vertices[0]!.id);
      const produced = src.reduce((n, x) => n + x.recordsOut, 0);
      const bp = src.reduce((n, x) => n + x.backpressuredRatio, 0) / src.length;
      console.log(
        `  t=${String(s).padStart(3)} s  rss ${rss.toFixed(1)} MiB  produced ${produced}  consumed ${consumed}  in flight ${produced - consumed}  source backpressured ${(bp * 100).toFixed(0)}%`,
      );
    }
  }
  await cluster.cancel(jobId);
  await cluster.result(jobId, 10_000);
  await cluster.close();
  const half = Math.floor(samples.length / 2);
  const first = samples.slice(1, Math.max(2, half));
  const second = samples.slice(half);
  const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  console.log(`  rss first half avg ${avg(first).toFixed(1)} MiB, second half avg ${avg(second).toFixed(1)} MiB, max ${Math.max(...samples).toFixed(1)} MiB`);
  console.log(`  ratio second/first half ${(avg(second) / avg(first)).toFixed(3)} (flat = ~1.0); consumed ${fmt(consumed / ((performance.now() - t0) / 1000))}/s vs offered ${fmt(sourceRate)}/s`);
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      events: { type: 'string' },
      parallelism: { type: 'string' },
      seconds: { type: 'string' },
      runs: { type: 'string' },
      rate: { type: 'string' },
      pad: { type: 'string' },
      profile: { type: 'string' },
      network: { type: 'string' },
      keys: { type: 'string' },
      sizes: { type: 'string' },
    },
  });
  const [what, arg] = positionals;
  const events = Number(values.events ?? 10_000_000);
  if (what?.startsWith('distributed-') === true) setClusterNetwork(values.network);
  switch (what) {
    case 'nexmark': {
      if (arg === undefined) {
        // one process per query: queries sharing a process share V8's type feedback and hidden
        // classes (q1's output has the Bid's shape), which skews whichever runs later
        for (const q of ['q0', 'q1', 'q2']) {
          spawnSync(process.execPath, [__filename, 'nexmark', q, ...process.argv.slice(3)], { stdio: 'inherit' });
        }
        return;
      }
      if (!['q0', 'q1', 'q2'].includes(arg)) throw new Error(`unknown query ${arg}; have q0, q1, q2`);
      return nexmark(arg as QueryName, events, Number(values.parallelism ?? 1));
    }
    case 'keyed':
      return keyed(Number(values.events ?? 5_000_000));
    case 'backpressure':
      return backpressure(Number(values.seconds ?? 30));
    case 'checkpoint-size':
      return checkpointSize(Number(values.keys ?? 1_000_000));
    case 'checkpoint-overhead':
      return checkpointOverhead({ events: Number(values.events ?? 10_000_000), runs: Number(values.runs ?? 2) });
    case 'restore-time':
      return restoreTime((values.sizes ?? '100,1000').split(',').map(Number));
    case 'distributed-keyed':
      return distributedKeyed({
        events: Number(values.events ?? 5_000_000),
        runs: Number(values.runs ?? 3),
        ...(values.profile !== undefined ? { profileDir: values.profile } : {}),
      });
    case 'distributed-latency':
      return distributedLatency({
        seconds: Number(values.seconds ?? 10),
        runs: Number(values.runs ?? 3),
        maxRecords: Number(values.events ?? 2_000_000),
        ...(values.rate !== undefined ? { rate: Number(values.rate) } : {}),
        pad: Number(values.pad ?? 0),
        ...(values.profile !== undefined ? { profileDir: values.profile } : {}),
      });
    case 'distributed-mismatch':
      return distributedMismatch({
        seconds: Number(values.seconds ?? 30),
        rate: Number(values.rate ?? 200_000),
        pad: Number(values.pad ?? 100),
        ...(values.profile !== undefined ? { profileDir: values.profile } : {}),
      });
    default:
      console.log(
        'usage: npm run bench -- nexmark [q0|q1|q2] [--events N] [--parallelism P] | keyed [--events N] | backpressure [--seconds S]\n' +
          '  | checkpoint-size [--keys N]\n' +
          '  | checkpoint-overhead [--events N] [--runs R] | restore-time [--sizes MiB,MiB]\n' +
          '  | distributed-keyed [--events N] [--runs R] | distributed-latency [--seconds S] [--runs R] [--events N] [--rate R] [--pad B]\n' +
          '  | distributed-mismatch [--seconds S] [--rate R] [--pad B]   (distributed-*: also [--network JSON] [--profile DIR])',
      );
      process.exitCode = what === undefined ? 0 : 2;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
