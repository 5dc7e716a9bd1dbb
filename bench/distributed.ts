/**
 * Benchmarks on a forked cluster: a JobManager in this process (startJobManager) and two
 * TaskExecutor child processes of one slot each; jobs are bundled from bench/jobs/*.ts and
 * submitted over REST exactly as `troupe run --cluster` does. Figures and ratios, never pass/fail.
 *
 *   distributed-keyed     Nexmark q1 → keyBy(auction) → count, parallelism 2
 *   distributed-latency   stamped records TaskExecutor A → B, latency histogram, buffer timeout 0 / 100
 *   distributed-mismatch  source 10× faster than its sink in the other process; RSS over time
 *
 * Placement: slot sharing puts subtask i of every vertex into slot i, and the ResourceManager
 * spreads slots over TaskExecutors, so with two 1-slot TaskExecutors subtask 0 of everything runs
 * in one process and subtask 1 in the other. There is no way to put a whole vertex on its own
 * TaskExecutor (no slot sharing groups): at parallelism 1 everything shares one slot and nothing
 * crosses. So the keyed count runs at parallelism 2 with an all-to-all hash edge (each process
 * generates half the events and counts half the auctions; about half the bids cross), and the
 * stamped jobs run the source at parallelism 1 and route every record by key to sink subtask 1,
 * which is alone in the other process.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startJobManager, type RunningJobManager } from '../actors/cluster/job-manager.js';
import type { JobResult, TaskMetrics } from '../actors/protocol/job-status.js';
import { prepareJobModule } from '../api/cluster-client.js';
import type { TaskExecutorDto } from '../api/rest/dto.js';
import { RestClient } from '../api/rest/rest-client.js';
import { parseClusterConfig } from '../cluster-config/cluster-config.js';
import type { JobId } from '../core/ids.js';
import type { JobGraph } from '../core/job-graph.js';
import { DEFAULT_MAX_PARALLELISM, operatorIndexForKey } from '../state/key-groups.js';
import { printProfileSummary, summarizeProfile } from './cpuprofile-summary.js';
import { keyedBlackholeValue, keyedForLoopBaseline } from './keyed-baseline.js';
import type { LatencyRecord, WhereRecord } from './jobs/stamped.js';

const JOBS = path.resolve(__dirname, '..', '..', 'bench', 'jobs');
const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} K`);
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const range = (xs: readonly number[], digits = 2): string =>
  xs.length === 0 ? '-' : `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)} (median ${median(xs).toFixed(digits)})`;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// ---- the cluster ----

interface BenchCluster {
  readonly jm: RunningJobManager;
  readonly client: RestClient;
  readonly executors: readonly TaskExecutorDto[];
  readonly startMs: number;
  close(): Promise<void>;
}

/** Cluster `network` settings for every distributed bench (diagnostics: `--network '{"floatingCredits":32}'`). */
let clusterNetwork: Record<string, unknown> | undefined;
export function setClusterNetwork(json: string | undefined): void {
  clusterNetwork = json === undefined ? undefined : (JSON.parse(json) as Record<string, unknown>);
  if (clusterNetwork !== undefined) console.log(`  cluster network settings: ${JSON.stringify(clusterNetwork)}`);
}

async function startCluster(): Promise<BenchCluster> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'troupe-bench-'));
  const config = parseClusterConfig(
    {
      name: 'bench',
      mode: 'forked',
      jobmanager: { rpcPort: 0, restPort: 0 },
      taskExecutors: [{ count: 2, slots: 1 }],
      workDir,
      ...(clusterNetwork !== undefined ? { network: clusterNetwork } : {}),
    },
    {},
    'bench cluster',
  );
  const t0 = performance.now();
  const jm = await startJobManager(config);
  const startMs = performance.now() - t0;
  const client = new RestClient(jm.restUrl);
  const { executors } = await client.overview();
  return {
    jm,
    client,
    executors,
    startMs,
    close: async () => {
      await jm.close();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

interface Submitted {
  readonly jobId: JobId;
  readonly graph: JobGraph;
  /** Bundling with esbuild + building the graph, ms. */
  readonly bundleMs: number;
  /** performance.now() just before the REST submission. */
  readonly submittedAt: number;
}

async function submit(client: RestClient, job: string, args: string[], parallelism: number, bufferTimeoutMs?: number): Promise<Submitted> {
  const file = path.join(JOBS, job);
  const t0 = performance.now();
  const { graph, artifact } = await prepareJobModule(file, { parallelism, args, ...(bufferTimeoutMs !== undefined ? { bufferTimeoutMs } : {}) });
  const submittedAt = performance.now();
  const { jobId } = await client.submitJob(graph, artifact);
  return { jobId, graph, bundleMs: submittedAt - t0, submittedAt };
}

async function finished(client: RestClient, s: Submitted): Promise<{ result: JobResult; wallMs: number }> {
  const result = await client.waitForResult(s.jobId, { pollMs: 50 });
  const wallMs = performance.now() - s.submittedAt;
  if (result.status !== 'finished') throw new Error(`job ${result.name} ${result.status}: ${result.error?.code ?? ''} ${result.error?.message ?? ''}`);
  return { result, wallMs };
}

// ---- /proc ----

const CLK_TCK = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** User + system CPU seconds of a process. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m === null ? NaN : Number(m[1]) / 1024;
}

function cpuOf(pids: readonly number[]): number[] {
  return pids.map((p) => cpuSeconds(p));
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
  const busy = f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0);
  return busy / CLK_TCK;
}

/**
 * How busy the machine was apart from the cluster: the noise a figure was measured under.
 * Call start() before and stop() after; `ours` are the cluster's processes (this one included).
 */
class MachineLoad {
  private t0 = 0;
  private busy0 = 0;
  private ours0 = 0;
  constructor(private readonly pids: readonly number[]) {}
  private ours(): number {
    const self = process.cpuUsage();
    return cpuOf(this.pids).reduce((a, b) => a + b, 0) + (self.user + self.system) / 1e6;
  }
  start(): void {
    this.t0 = performance.now();
    this.busy0 = machineBusySeconds();
    this.ours0 = this.ours();
  }
  /** Cores used on average by other processes, and by ours, since start(). */
  stop(): { others: number; ours: number } {
    const s = (performance.now() - this.t0) / 1000;
    const ours = this.ours() - this.ours0;
    const all = machineBusySeconds() - this.busy0;
    return { others: Math.max(0, all - ours) / s, ours: ours / s };
  }
}

/**
 * Stalls of the whole machine, seen by a separate idle Node process: how late its 1 ms timer
 * fires (lateness over 4 ms counts as a stall). The JobManager's own timer lag is measured in a
 * process that works; this one does nothing, so its stalls are the machine's (on the 2-vCPU VM
 * these benches were tuned on, stalls of 5-25 ms hit this probe, the JobManager and both
 * TaskExecutors in the same millisecond under the latency job's load, and set its p99).
 */
interface StallSummary {
  readonly stalls: number;
  readonly stalledMs: number;
  readonly maxMs: number;
}

const STALL_PROBE = `
let last = performance.now(), stalls = 0, stalledMs = 0, maxMs = 0;
setInterval(() => {
  const now = performance.now(), late = now - last - 1;
  last = now;
  if (late > 4) { stalls++; stalledMs += late; if (late > maxMs) maxMs = late; }
}, 1);
process.stdin.on('data', () => { process.stdout.write(JSON.stringify({ stalls, stalledMs, maxMs }) + '\\n'); stalls = 0; stalledMs = 0; maxMs = 0; });
process.stdin.on('end', () => process.exit(0));
`;

class StallProbe {
  private readonly child = spawn(process.execPath, ['-e', STALL_PROBE], { stdio: ['pipe', 'pipe', 'inherit'] });
  private buffered = '';
  private waiting: ((s: StallSummary) => void) | null = null;

  constructor() {
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      const nl = this.buffered.indexOf('\n');
      if (nl < 0) return;
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      this.waiting?.(JSON.parse(line) as StallSummary);
      this.waiting = null;
    });
  }

  /** Stalls since the previous call (or since the probe started). */
  read(): Promise<StallSummary> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.child.stdin.write('\n');
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}

/** The smallest non-negative integer key that the hash edge sends to `subtask` of `parallelism`. */
export function keyForSubtask(subtask: number, parallelism: number, maxParallelism = DEFAULT_MAX_PARALLELISM): number {
  for (let k = 0; ; k++) if (operatorIndexForKey(k, maxParallelism, parallelism) === subtask) return k;
}

// ---- CPU profiles of the TaskExecutors ----

/** Makes the TaskExecutors started from now on write CPU profiles into `dir` (see cpu-profile-preload.ts). */
function startProfiling(dir: string | undefined): void {
  if (dir === undefined) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // children inherit the environment; Node 20 refuses --cpu-prof in NODE_OPTIONS, so a preload profiles them
  process.env.TROUPE_BENCH_PROFILE_DIR = path.resolve(dir);
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${path.join(__dirname, 'cpu-profile-preload.js')}`.trim();
}

function printProfiles(dir: string | undefined): void {
  if (dir === undefined) return;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) printProfileSummary(summarizeProfile(path.join(dir, f)), 30);
}

// ---- distributed-keyed ----

export interface KeyedOptions {
  readonly events: number;
  readonly runs: number;
  /** Directory for TaskExecutor CPU profiles (children get NODE_OPTIONS=--cpu-prof). */
  readonly profileDir?: string;
}

export async function distributedKeyed(o: KeyedOptions): Promise<void> {
  console.log(
    `Distributed keyed: Nexmark q1 -> keyBy(auction) -> count in ValueState, ${fmt(o.events)} events, ${o.runs} runs, Node ${process.version}\n` +
      `  forked cluster: 2 TaskExecutor processes x 1 slot, parallelism 2: each process runs Nexmark split i -> q1 (chained)\n` +
      `  and count subtask i; the hash edge is all-to-all, so about half the bids cross to the other process (encoded, TCP)`,
  );
  startProfiling(o.profileDir);
  const cluster = await startCluster();
  const pids = cluster.executors.map((e) => e.pid!);
  console.log(`  cluster up in ${cluster.startMs.toFixed(0)} ms: ${cluster.executors.map((e) => `${e.id} pid ${e.pid}`).join(', ')}`);
  const engine: { job: number; tasks: number; wall: number; perCpu: number }[] = [];
  const loops: number[] = [];
  const loopsPerCpu: number[] = [];
  try {
    // warm-up: the TaskExecutor processes live across jobs, so the runtime's code is warm for the measured runs
    const warmEvents = Math.min(o.events, 1_000_000);
    const w = await finished(cluster.client, await submit(cluster.client, 'nexmark-keyed-count.ts', [String(warmEvents)], 2));
    keyedForLoopBaseline(Math.min(o.events, 1_000_000));
    console.log(`  warm-up: ${fmt(warmEvents)} events in ${secs(w.result.durationMs)}`);
    const load = new MachineLoad(pids);
    for (let run = 1; run <= o.runs; run++) {
      const cpu0 = cpuOf(pids);
      const jm0 = process.cpuUsage();
      load.start();
      const s = await submit(cluster.client, 'nexmark-keyed-count.ts', [String(o.events)], 2);
      const { result, wallMs } = await finished(cluster.client, s);
      const machine = load.stop();
      const cpu = cpuOf(pids).map((c, i) => c - cpu0[i]!);
      const jm = process.cpuUsage(jm0);
      const teCpu = cpu.reduce((a, b) => a + b, 0);
      const taskMs = Math.max(...result.tasks.map((t) => t.wallMs));
      const count = result.operators.find((op) => op.name === 'Count');
      const e = { job: o.events / (result.durationMs / 1000), tasks: o.events / (taskMs / 1000), wall: o.events / (wallMs / 1000), perCpu: o.events / teCpu };
      engine.push(e);
      console.log(
        `  run ${run}: job ${secs(result.durationMs)} = ${fmt(e.job)} events/s | tasks ${secs(taskMs)} = ${fmt(e.tasks)}/s | ` +
          `submit->result ${secs(wallMs)} = ${fmt(e.wall)}/s (+ bundle ${s.bundleMs.toFixed(0)} ms) | ` +
          `cpu ${cluster.executors.map((x, i) => `${x.id} ${cpu[i]!.toFixed(1)} s`).join(', ')}, jm ${((jm.user + jm.system) / 1e6).toFixed(1)} s | ` +
          `${count?.recordsIn ?? 0} bids counted | other processes used ${machine.others.toFixed(2)} cores`,
      );
      for (const t of result.tasks) {
        const vertex = s.graph.vertices.find((v) => v.id === t.vertex)?.name ?? t.vertex;
        console.log(
          `      ${vertex.slice(0, 40).padEnd(40)} #${t.subtask}: busy ${(t.busyRatio * 100).toFixed(0)}% backpressured ${(t.backpressuredRatio * 100).toFixed(0)}% idle ${(t.idleRatio * 100).toFixed(0)}%, in ${t.recordsIn} out ${t.recordsOut}`,
        );
      }
      load.start();
      const loopCpu0 = process.cpuUsage();
      const loop = keyedForLoopBaseline(o.events);
      const loopCpu = process.cpuUsage(loopCpu0);
      const loopMachine = load.stop();
      loops.push(loop.eventsPerSecond);
      loopsPerCpu.push(o.events / ((loopCpu.user + loopCpu.system) / 1e6));
      console.log(
        `         for-loop ${fmt(loop.eventsPerSecond)} events/s (${loop.outputs} bids, ${loop.keys} auctions) | other processes used ${loopMachine.others.toFixed(2)} cores`,
      );
    }
  } finally {
    await cluster.close();
  }
  const ratio = (k: 'job' | 'tasks' | 'wall'): number[] => engine.map((e, i) => e[k] / loops[i]!);
  console.log(`  engine (job durationMs)  ${range(engine.map((e) => e.job / 1e3), 0)} K events/s`);
  console.log(`  for-loop                 ${range(loops.map((x) => x / 1e3), 0)} K events/s (q1 conversion + Map count, one thread)`);
  console.log(`  ratio job / for-loop             ${range(ratio('job'))}  (target >= 0.25)`);
  console.log(`  ratio task wall / for-loop       ${range(ratio('tasks'))}  (processing only, no deployment)`);
  console.log(`  ratio submit->result / for-loop  ${range(ratio('wall'))}  (with deployment and result polling)`);
  console.log(
    `  events per CPU-second: engine ${range(engine.map((e) => e.perCpu / 1e3), 0)} K (both TaskExecutors), for-loop ${range(loopsPerCpu.map((x) => x / 1e3), 0)} K; ` +
      `ratio ${range(engine.map((e, i) => e.perCpu / loopsPerCpu[i]!))} (insensitive to other load on the machine)`,
  );
  console.log(`  (blackhole ${keyedBlackholeValue().toExponential(3)})`);
  printProfiles(o.profileDir);
}

// ---- distributed-latency ----

interface Percentiles {
  count: number;
  meanMs: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  maxMs: number;
  ratePerSecond: number;
}

function percentiles(records: readonly LatencyRecord[]): Percentiles {
  const merged = new Map<number, number>();
  let count = 0;
  let sum = 0;
  let max = 0;
  let first = Infinity;
  let last = 0;
  const b = records[0]?.bucketsPerOctave ?? 16;
  for (const r of records) {
    if (r.count === 0) continue;
    count += r.count;
    sum += r.sumUs;
    max = Math.max(max, r.maxUs);
    first = Math.min(first, r.firstArrival);
    last = Math.max(last, r.lastArrival);
    for (const [i, n] of Object.entries(r.buckets)) merged.set(Number(i), (merged.get(Number(i)) ?? 0) + n);
  }
  const sorted = [...merged].sort((x, y) => x[0] - y[0]);
  // the upper edge of the bucket holding the q-quantile, capped at the exact maximum
  const at = (q: number): number => {
    const rank = Math.ceil(q * count);
    let seen = 0;
    for (const [i, n] of sorted) {
      seen += n;
      if (seen >= rank) return Math.min(2 ** ((i + 1) / b) - 1, max) / 1000;
    }
    return max / 1000;
  };
  return {
    count,
    meanMs: count === 0 ? 0 : sum / count / 1000,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    maxMs: max / 1000,
    ratePerSecond: last > first ? count / ((last - first) / 1000) : 0,
  };
}

/** Waits until the job runs (samples taken before that would measure deployment). */
async function waitRunning(client: RestClient, jobId: JobId): Promise<void> {
  for (let i = 0; ; i++) {
    const job = (await client.listJobs()).find((j) => j.id === jobId);
    if (job?.status === 'running') return;
    if (job === undefined || job.status === 'failed' || job.status === 'cancelled' || job.status === 'finished') {
      throw new Error(`job ${jobId} is ${job?.status ?? 'unknown'} before it ran`);
    }
    if (i > 3000) throw new Error(`job ${jobId} did not start within 60 s`);
    await sleep(20);
  }
}

function checkPlacement(records: readonly unknown[]): { source: number; sink: number } {
  const where = records.filter((r): r is WhereRecord => (r as { kind?: unknown }).kind === 'where');
  const a = where.find((w) => w.subtask === 0)?.pid;
  const b = where.find((w) => w.subtask === 1)?.pid;
  if (a === undefined || b === undefined) throw new Error(`sink subtasks did not report their processes: ${JSON.stringify(where)}`);
  if (a === b) throw new Error(`sink subtasks 0 and 1 run in the same process ${a}: the records would not cross processes`);
  return { source: a, sink: b };
}

export interface LatencyOptions {
  readonly seconds: number;
  readonly runs: number;
  /** Records of the unthrottled runs that measure the pipeline's maximum throughput. */
  readonly maxRecords: number;
  /** Records/s; default half the measured maximum throughput (buffer timeout 100 ms). */
  readonly rate?: number;
  readonly pad: number;
  readonly profileDir?: string;
}

export async function distributedLatency(o: LatencyOptions): Promise<void> {
  const key = keyForSubtask(1, 2);
  console.log(
    `Distributed latency: Stamped Source (TaskExecutor A) -> keyBy -> sink (TaskExecutor B); every record crosses processes\n` +
      `  latency = arrival - emission, wall clock (performance.timeOrigin + performance.now()) in both processes; records of ${o.pad} pad chars`,
  );
  startProfiling(o.profileDir);
  const cluster = await startCluster();
  console.log(`  cluster up in ${cluster.startMs.toFixed(0)} ms: ${cluster.executors.map((e) => `${e.id} pid ${e.pid}`).join(', ')}`);
  const pids = cluster.executors.map((e) => e.pid!);
  const load = new MachineLoad(pids);
  const rows: { label: string; p: Percentiles }[] = [];
  const probe = new StallProbe();
  try {
    const run = async (bufferTimeoutMs: number, records: number, rate: number, warmup: number): Promise<{ p: Percentiles; result: JobResult; placement: { source: number; sink: number } }> => {
      const args = [`records=${records}`, `rate=${rate}`, `key=${key}`, `pad=${o.pad}`, 'sink=latency', `warmup=${warmup}`];
      const s = await submit(cluster.client, 'stamped.ts', args, 2, bufferTimeoutMs);
      const { result } = await finished(cluster.client, s);
      const collected = Object.values(result.collected).flat();
      const placement = checkPlacement(collected);
      const lat = collected.filter((r): r is LatencyRecord => (r as { kind?: unknown }).kind === 'latency');
      return { p: percentiles(lat), result, placement };
    };
    // maximum throughput of this pipeline, unthrottled (after a warm-up job); buffer timeout 0
    // sends one record per buffer and is far slower, so it gets a tenth of the records
    await run(100, Math.min(o.maxRecords, 500_000), 0, 0);
    const maxRate = new Map<number, number>();
    for (const [t, n] of [
      [100, o.maxRecords],
      [0, Math.max(10_000, Math.round(o.maxRecords / 10))],
    ] as const) {
      load.start();
      const { result, placement } = await run(t, n, 0, 0);
      const machine = load.stop();
      const taskMs = Math.max(...result.tasks.map((x) => x.wallMs));
      maxRate.set(t, n / (taskMs / 1000));
      console.log(
        `  max throughput, buffer timeout ${String(t).padStart(3)} ms: ${fmt(n / (taskMs / 1000))} records/s (${fmt(n)} records unthrottled in ${secs(taskMs)}; ` +
          `source pid ${placement.source}, sink pid ${placement.sink}; other processes used ${machine.others.toFixed(2)} cores)`,
      );
    }
    // the same rate for both timeouts, below both maxima: half the smaller (buffer timeout 0)
    const rate = Math.round(o.rate ?? Math.min(maxRate.get(0)!, maxRate.get(100)!) / 2);
    const high = Math.round(maxRate.get(100)! / 2);
    console.log(
      `  fixed rate ${fmt(rate)} records/s (${o.rate === undefined ? 'half the maximum at buffer timeout 0, the lower one' : 'given'}) for both timeouts, ` +
        `and buffer timeout 100 ms also at ${fmt(high)}/s (half its own maximum); ${o.seconds} s per run, the first second not measured`,
    );
    const ms = (x: number): string => `${x.toFixed(x < 10 ? 2 : 1)} ms`.padStart(9);
    console.log(`  ${'timeout @ rate'.padEnd(20)} ${'p50'.padStart(9)} ${'p90'.padStart(9)} ${'p99'.padStart(9)} ${'p99.9'.padStart(9)} ${'max'.padStart(9)} ${'mean'.padStart(9)}   measured, arrival rate, other load, scheduling noise`);
    const configs: [number, number][] = [
      [0, rate],
      [100, rate],
      [100, high],
    ];
    for (let r = 1; r <= o.runs; r++) {
      for (const [t, rt] of configs) {
        load.start();
        // scheduling noise: how late this (nearly idle) process's 1 ms timers fire meanwhile
        const lag = monitorEventLoopDelay({ resolution: 1 });
        lag.enable();
        await probe.read();
        const { p } = await run(t, Math.round(rt * o.seconds), rt, rt);
        const stalls = await probe.read();
        lag.disable();
        const machine = load.stop();
        const label = `${t} ms @ ${fmt(rt)}/s`;
        rows.push({ label, p });
        console.log(
          `  ${label.padEnd(20)} ${ms(p.p50)} ${ms(p.p90)} ${ms(p.p99)} ${ms(p.p999)} ${ms(p.maxMs)} ${ms(p.meanMs)}   ${p.count}, ${fmt(p.ratePerSecond)}/s, ` +
            `${machine.others.toFixed(2)} cores, jm timer lag p99 ${(lag.percentile(99) / 1e6).toFixed(1)} max ${(lag.max / 1e6).toFixed(1)} ms, ` +
            `idle probe ${stalls.stalls} stalls ${stalls.stalledMs.toFixed(0)} ms max ${stalls.maxMs.toFixed(1)} ms  (run ${r})`,
        );
      }
    }
  } finally {
    probe.close();
    await cluster.close();
  }
  for (const label of [...new Set(rows.map((x) => x.label))]) {
    const ps = rows.filter((x) => x.label === label).map((x) => x.p);
    console.log(`  ${label.padEnd(20)} p50 ${range(ps.map((p) => p.p50))} ms, p99 ${range(ps.map((p) => p.p99))} ms, max ${range(ps.map((p) => p.maxMs), 1)} ms`);
  }
  console.log(`  target: p99 < 5 ms with buffer timeout 0`);
  printProfiles(o.profileDir);
}

// ---- distributed-mismatch ----

export interface MismatchOptions {
  readonly seconds: number;
  /** Source records/s; the sink manages a tenth. */
  readonly rate: number;
  readonly pad: number;
  readonly profileDir?: string;
}

export async function distributedMismatch(o: MismatchOptions): Promise<void> {
  const sinkRate = o.rate / 10;
  const key = keyForSubtask(1, 2);
  console.log(
    `Distributed mismatch: source ${fmt(o.rate)} records/s in TaskExecutor A -> keyBy -> sink managing ${fmt(sinkRate)}/s in TaskExecutor B, ` +
      `${o.seconds} s, records of ${o.pad} pad chars, buffer timeout 100 ms`,
  );
  startProfiling(o.profileDir);
  const cluster = await startCluster();
  const samples: { t: number; src: number; sink: number; jm: number; consumed: number; produced: number; bp: number; bpWindow: number; srcBuffers: number; sinkBuffers: number }[] = [];
  let final: JobResult | null = null;
  let placement: { source: number; sink: number } | null = null;
  const idle = { jm: rssMiB(process.pid), te: cluster.executors.map((e) => rssMiB(e.pid!)) };
  try {
    const records = Math.round(o.rate * (o.seconds + 120));
    const args = [`records=${records}`, `rate=${o.rate}`, `key=${key}`, `pad=${o.pad}`, 'sink=slow', `sinkRate=${sinkRate}`];
    const s = await submit(cluster.client, 'stamped.ts', args, 2, 100);
    // which process hosts what: the sink subtasks say (source = subtask 0's process)
    await waitRunning(cluster.client, s.jobId);
    const where: unknown[] = [];
    for (let i = 0; i < 200 && where.length < 2; i++) {
      const slice = await cluster.client.collected(s.jobId, 0);
      where.splice(0, where.length, ...slice.records);
      if (where.length < 2) await sleep(50);
    }
    placement = checkPlacement(where);
    const src = placement.source;
    const sink = placement.sink;
    const name = (pid: number): string => cluster.executors.find((e) => e.pid === pid)?.id ?? String(pid);
    console.log(`  cluster up in ${cluster.startMs.toFixed(0)} ms; source in ${name(src)} (pid ${src}), sink in ${name(sink)} (pid ${sink}); idle RSS: jm ${idle.jm.toFixed(0)} MiB, TaskExecutors ${idle.te.map((x) => x.toFixed(0)).join(' / ')} MiB`);
    const sourceVertex = s.graph.vertices[0]!.id;
    const sinkVertex = s.graph.vertices[1]!.id;
    let prev: TaskMetrics | undefined;
    for (let sec = 1; sec <= o.seconds; sec++) {
      await sleep(1000);
      const metrics = await cluster.jm.dispatcher.ask({ type: 'job-metrics', jobId: s.jobId });
      const m = metrics.find((x) => x.vertex === sourceVertex);
      const sinks = metrics.filter((x) => x.vertex === sinkVertex);
      const bpWindow = m !== undefined && prev !== undefined && m.wallMs > prev.wallMs ? (m.backpressuredMs - prev.backpressuredMs) / (m.wallMs - prev.wallMs) : (m?.backpressuredRatio ?? 0);
      prev = m;
      samples.push({
        t: sec,
        src: rssMiB(src),
        sink: rssMiB(sink),
        jm: rssMiB(process.pid),
        produced: m?.recordsOut ?? 0,
        consumed: sinks.reduce((n, x) => n + x.recordsIn, 0),
        bp: m?.backpressuredRatio ?? 0,
        bpWindow,
        srcBuffers: m?.buffersInFlight ?? 0,
        sinkBuffers: sinks.reduce((n, x) => n + x.buffersInFlight, 0),
      });
    }
    await cluster.client.cancelJob(s.jobId);
    final = await cluster.client.waitForResult(s.jobId, { timeoutMs: 30_000 });
  } finally {
    await cluster.close();
  }
  const series = (label: string, xs: readonly number[], digits = 0): void => console.log(`  ${label.padEnd(22)} ${xs.map((x) => x.toFixed(digits)).join(' ')}`);
  console.log(`  per second, t = 1..${o.seconds} s:`);
  series('RSS source TE (MiB)', samples.map((x) => x.src));
  series('RSS sink TE (MiB)', samples.map((x) => x.sink));
  series('RSS JobManager (MiB)', samples.map((x) => x.jm));
  series('consumed (K/s)', samples.map((x, i) => (x.consumed - (samples[i - 1]?.consumed ?? 0)) / 1000), 1);
  series('produced (K/s)', samples.map((x, i) => (x.produced - (samples[i - 1]?.produced ?? 0)) / 1000), 1);
  series('in flight (K records)', samples.map((x) => (x.produced - x.consumed) / 1000), 1);
  series('buffers src/sink', samples.map((x) => x.srcBuffers));
  series('', samples.map((x) => x.sinkBuffers));
  series('source bp % (window)', samples.map((x) => x.bpWindow * 100));
  const third = Math.floor(samples.length / 3);
  const avg = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const middle = samples.slice(third, 2 * third);
  const last = samples.slice(2 * third);
  for (const [label, k] of [['source TE', 'src'], ['sink TE', 'sink'], ['JobManager', 'jm']] as const) {
    const a = avg(middle.map((x) => x[k]));
    const b = avg(last.map((x) => x[k]));
    console.log(`  ${label.padEnd(11)} RSS mean middle third ${a.toFixed(1)} MiB, last third ${b.toFixed(1)} MiB, ratio last/middle ${(b / a).toFixed(3)} (flat = 1.0), max ${Math.max(...samples.map((x) => x[k])).toFixed(1)} MiB`);
  }
  const lastSample = samples[samples.length - 1];
  const srcFinal = final?.tasks.find((t) => t.subtask === 0 && t.recordsIn === 0 && t.recordsOut > 0);
  console.log(
    `  source backpressured ${((lastSample?.bp ?? 0) * 100).toFixed(1)}% of its run time (task metrics at t = ${o.seconds} s)` +
      `${srcFinal !== undefined ? `, ${(srcFinal.backpressuredRatio * 100).toFixed(1)}% at cancel` : ''}; ` +
      `consumed ${fmt(((lastSample?.consumed ?? 0) / o.seconds))}/s on average vs offered ${fmt(o.rate)}/s; job ${final?.status ?? '?'}`,
  );
  printProfiles(o.profileDir);
}
