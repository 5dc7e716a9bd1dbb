/**
 * Time-stamped records across a process boundary: the job of `distributed-latency` and
 * `distributed-mismatch`.
 *
 *   Stamped Source (parallelism 1) → keyBy(constant key) → Receive → sink (parallelism 2)
 *
 * (Receive is a pass-through keyed process function: a keyed stream must end in a keyed
 * operator; the sink is chained to it, so it sees each record in the same call.)
 *
 * On a cluster of two 1-slot TaskExecutors, slot sharing puts subtask i of every vertex in slot i,
 * one slot per TaskExecutor: the source shares TaskExecutor A with sink subtask 0, and sink subtask
 * 1 runs alone in TaskExecutor B. The driver passes a key that hashes to subtask 1, so every record
 * crosses from A to B (encoded, over TCP); sink subtask 0 receives nothing.
 *
 * Each record carries its emission time as wall-clock milliseconds with sub-millisecond precision
 * (performance.timeOrigin + performance.now(); both processes are on one host).
 *
 * args (key=value): records (count, required), rate (records/s, 0 = as fast as possible),
 * key (the constant key), pad (payload characters, default 0), sink = latency | slow,
 * warmup (latency: records not measured at the start), sinkRate (slow: records/s the sink manages).
 *
 * Every sink subtask first collects `{ kind: 'where', subtask, pid }`, so the driver can tell which
 * process hosts what; the latency sink collects one `{ kind: 'latency', ... }` summary at the end.
 */
import type {
  Collector,
  KeyedProcessFunction,
  PollResult,
  Sink,
  SinkContext,
  SinkWriter,
  Source,
  SourceContext,
  SourceReader,
  StreamExecutionEnvironment,
} from 'troupe';

export interface Stamped {
  readonly seq: number;
  /** Emission time, wall-clock ms (sub-ms precision). */
  readonly t: number;
  readonly pad: string;
}

export interface WhereRecord {
  readonly kind: 'where';
  readonly subtask: number;
  readonly pid: number;
}

/** A latency histogram: log buckets of 1/BUCKETS_PER_OCTAVE octave over microseconds. */
export interface LatencyRecord {
  readonly kind: 'latency';
  readonly subtask: number;
  readonly pid: number;
  readonly count: number;
  readonly sumUs: number;
  readonly minUs: number;
  readonly maxUs: number;
  readonly bucketsPerOctave: number;
  /** bucket index → count (bucket i holds latencies in [2^(i/B) - 1, 2^((i+1)/B) - 1) µs). */
  readonly buckets: Record<string, number>;
  /** First and last measured arrival, wall-clock ms. */
  readonly firstArrival: number;
  readonly lastArrival: number;
}

const BUCKETS_PER_OCTAVE = 16; // ~4.4 % wide buckets

const now = (): number => performance.timeOrigin + performance.now();

class StampedSource implements Source<Stamped> {
  readonly maxParallelism = 1;
  constructor(
    private readonly records: number,
    private readonly rate: number,
    private readonly pad: string,
  ) {}

  createReader(_ctx: SourceContext): SourceReader<Stamped> {
    const { records, rate, pad } = this;
    let seq = 0;
    let t0 = 0;
    return {
      pollNext(out: Collector<Stamped>, max: number): PollResult {
        if (seq >= records) return 'end';
        let limit = Math.min(records, seq + max);
        if (rate > 0) {
          const elapsed = performance.now() - (t0 === 0 ? (t0 = performance.now()) : t0);
          const due = Math.min(records, Math.floor((elapsed / 1000) * rate) + 1);
          if (due <= seq) {
            // the next record is due in (seq + 1) / rate s: wait for it (timers have ~1 ms grain,
            // so records leave in bursts of up to ~1 ms worth)
            const waitMs = ((seq + 1) / rate) * 1000 - elapsed;
            return new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(waitMs, 50))));
          }
          limit = Math.min(limit, due);
        }
        while (seq < limit) out.collect({ seq: seq++, t: now(), pad });
        return seq >= records ? 'end' : 'more';
      },
    };
  }
}

class LatencySink implements Sink<Stamped> {
  constructor(private readonly warmup: number) {}

  createWriter(ctx: SinkContext): SinkWriter<Stamped> {
    const warmup = this.warmup;
    const buckets = new Float64Array(64 * BUCKETS_PER_OCTAVE);
    let count = 0;
    let sumUs = 0;
    let minUs = Infinity;
    let maxUs = 0;
    let firstArrival = 0;
    let lastArrival = 0;
    let reported = false;
    const report = (): void => {
      if (reported) return;
      reported = true;
      const sparse: Record<string, number> = {};
      buckets.forEach((n, i) => {
        if (n > 0) sparse[i] = n;
      });
      const summary: LatencyRecord = {
        kind: 'latency',
        subtask: ctx.subtaskIndex,
        pid: process.pid,
        count,
        sumUs,
        minUs: count === 0 ? 0 : minUs,
        maxUs,
        bucketsPerOctave: BUCKETS_PER_OCTAVE,
        buckets: sparse,
        firstArrival,
        lastArrival,
      };
      ctx.collect([summary]);
    };
    return {
      open(): void {
        const where: WhereRecord = { kind: 'where', subtask: ctx.subtaskIndex, pid: process.pid };
        ctx.collect([where]);
      },
      write(r: Stamped): void {
        const arrival = now();
        if (r.seq < warmup) return;
        const us = Math.max(0, (arrival - r.t) * 1000);
        buckets[Math.min(buckets.length - 1, Math.floor(Math.log2(1 + us) * BUCKETS_PER_OCTAVE))]! += 1;
        if (count === 0) firstArrival = arrival;
        lastArrival = arrival;
        count++;
        sumUs += us;
        if (us < minUs) minUs = us;
        if (us > maxUs) maxUs = us;
      },
      flush: report,
    };
  }
}

/** A sink that manages `rate` records/s: each write spins until its slot (a stand-in for slow I/O). */
class SlowSink implements Sink<Stamped> {
  constructor(private readonly rate: number) {}

  createWriter(ctx: SinkContext): SinkWriter<Stamped> {
    const intervalMs = 1000 / this.rate;
    let next = 0;
    return {
      open(): void {
        const where: WhereRecord = { kind: 'where', subtask: ctx.subtaskIndex, pid: process.pid };
        ctx.collect([where]);
      },
      write(): void {
        const t = performance.now();
        if (next < t) next = t; // idle time is not banked
        next += intervalMs;
        while (performance.now() < next) {
          /* slow sink */
        }
      },
    };
  }
}

const receive: KeyedProcessFunction<number, Stamped, Stamped> = {
  processElement(r, _ctx, out) {
    out.collect(r);
  },
};

function parse(args: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of args) {
    const i = a.indexOf('=');
    if (i <= 0) throw new Error(`stamped: expected key=value, got ${a}`);
    m.set(a.slice(0, i), a.slice(i + 1));
  }
  return m;
}

function num(m: Map<string, string>, name: string, fallback?: number): number {
  const raw = m.get(name);
  const v = raw === undefined ? fallback : Number(raw);
  if (v === undefined || !Number.isFinite(v) || v < 0) throw new Error(`stamped: ${name} must be a non-negative number, got ${String(raw)}`);
  return v;
}

export default function stamped(env: StreamExecutionEnvironment, args: string[]): void {
  const m = parse(args);
  const records = num(m, 'records');
  const rate = num(m, 'rate', 0);
  const key = num(m, 'key', 0);
  const pad = 'x'.repeat(num(m, 'pad', 0));
  const kind = m.get('sink') ?? 'latency';
  const sink: Sink<Stamped> =
    kind === 'latency' ? new LatencySink(num(m, 'warmup', 0)) : kind === 'slow' ? new SlowSink(num(m, 'sinkRate')) : (() => {
      throw new Error(`stamped: sink must be latency or slow, got ${kind}`);
    })();
  env
    .fromSource(new StampedSource(records, rate, pad), 'Stamped Source')
    .uid('stamped-source')
    .setParallelism(1)
    .keyBy(() => key)
    .process(receive, 'Receive')
    .uid('receive')
    .setParallelism(2)
    .sinkTo(sink, kind === 'latency' ? 'Latency Sink' : 'Slow Sink')
    .uid('stamped-sink')
    .setParallelism(2);
}
