/**
 * An in-memory ClusterGateway for REST tests: it keeps submitted jobs, finishes them when told,
 * hands out collected records as the test releases them, and can be told to fail a call.
 */
import { TroupeError } from '../../core/errors.js';
import type { ExecutionAttemptId, JobId, OperatorId, TaskExecutorId, VertexId } from '../../core/ids.js';
import { DEFAULT_NETWORK_CONFIG, type JobGraph } from '../../core/job-graph.js';
import { TERMINAL_JOB_STATUSES, type JobResult, type JobStatus, type JobStatusReport } from '../../actors/protocol/job-status.js';
import type { JobSummary } from '../../actors/protocol/dispatcher.js';
import type { CheckpointsReport } from '../../actors/protocol/job-master.js';
import type { ClusterOverview } from '../../actors/protocol/resource-manager.js';
import type { ClusterGateway, CollectedSlice, JobArtifact } from '../../api/rest/gateway.js';

interface FakeJob {
  readonly jobGraph: JobGraph;
  readonly artifact: JobArtifact;
  readonly startTime: number;
  status: JobStatus;
  readonly records: unknown[];
  result: JobResult | null;
  /** Savepoints taken, oldest first. */
  readonly savepoints: string[];
}

export const SLOTS_TOTAL = 8;

export class FakeGateway implements ClusterGateway {
  readonly jobs = new Map<JobId, FakeJob>();
  /** Most records one `collected` call returns, so clients must page. */
  sliceSize = Number.POSITIVE_INFINITY;
  shutdowns = 0;
  /** Resolves at the first shutdown. */
  readonly shutdownRequested: Promise<void>;
  private onShutdown!: () => void;
  private readonly failures = new Map<keyof ClusterGateway, unknown>();

  constructor() {
    this.shutdownRequested = new Promise((resolve) => (this.onShutdown = resolve));
  }

  /** The next call of `method` throws `error`. */
  failNext(method: keyof ClusterGateway, error: unknown): void {
    this.failures.set(method, error);
  }

  /** Records reach the job's CollectSink. */
  emit(jobId: JobId, ...records: unknown[]): void {
    this.job(jobId).records.push(...records);
  }

  finish(jobId: JobId, status: JobResult['status'] = 'finished'): JobResult {
    const job = this.job(jobId);
    const endTime = job.startTime + 42;
    const sink = job.jobGraph.vertices.flatMap((v) => v.operators).find((o) => o.kind === 'sink');
    job.status = status;
    job.result = {
      jobId,
      name: job.jobGraph.name,
      status,
      startTime: job.startTime,
      endTime,
      durationMs: endTime - job.startTime,
      operators: job.jobGraph.vertices.flatMap((v) =>
        v.operators.map((o) => ({ id: o.id, name: o.name, vertex: v.id, parallelism: v.parallelism, recordsIn: 0, recordsOut: 0 })),
      ),
      tasks: [],
      ...(status === 'failed' ? { error: { code: 'TROUPE_USER_FUNCTION_FAILED' as const, message: 'map threw' } } : {}),
      collected: sink === undefined ? {} : { [sink.id]: [...job.records] },
    };
    return job.result;
  }

  async submitJob(jobGraph: JobGraph, artifact: JobArtifact): Promise<{ jobId: JobId }> {
    this.check('submitJob');
    if (this.jobs.has(jobGraph.jobId)) throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `job ${jobGraph.jobId} was already submitted`);
    this.jobs.set(jobGraph.jobId, { jobGraph, artifact, startTime: 1_700_000_000_000, status: 'running', records: [], result: null, savepoints: [] });
    return { jobId: jobGraph.jobId };
  }

  async listJobs(): Promise<JobSummary[]> {
    this.check('listJobs');
    return [...this.jobs.values()].map((j) => ({ jobId: j.jobGraph.jobId, name: j.jobGraph.name, status: j.status }));
  }

  async jobStatus(jobId: JobId): Promise<JobStatusReport> {
    this.check('jobStatus');
    const job = this.job(jobId);
    return {
      jobId,
      name: job.jobGraph.name,
      status: job.status,
      startTime: job.startTime,
      tasks: job.jobGraph.vertices.flatMap((v) =>
        Array.from({ length: v.parallelism }, (_, i) => ({
          attemptId: `${v.id}#${i}@0` as ExecutionAttemptId,
          state: job.status === 'running' ? ('running' as const) : ('finished' as const),
        })),
      ),
    };
  }

  async jobResult(jobId: JobId): Promise<JobResult | null> {
    this.check('jobResult');
    return this.job(jobId).result;
  }

  async cancelJob(jobId: JobId): Promise<void> {
    this.check('cancelJob');
    if (!this.terminal(this.job(jobId))) this.finish(jobId, 'cancelled');
  }

  async collected(jobId: JobId, from: number): Promise<CollectedSlice> {
    this.check('collected');
    const job = this.job(jobId);
    const records = job.records.slice(from, from + this.sliceSize);
    const next = from + records.length;
    return { records, next, complete: this.terminal(job) && next >= job.records.length };
  }

  /** A running job's savepoint completes at once under `dir` (default /savepoints); `stop` cancels the job. */
  async triggerSavepoint(jobId: JobId, { dir, stop }: { readonly dir?: string; readonly stop: boolean }): Promise<string> {
    this.check('triggerSavepoint');
    const job = this.job(jobId);
    if (this.terminal(job)) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `job ${jobId} is ${job.status}: no savepoint can be taken`);
    const location = `${dir ?? '/savepoints'}/savepoint-${jobId.slice(0, 6)}-${job.savepoints.length + 1}`;
    job.savepoints.push(location);
    if (stop) this.finish(jobId, 'cancelled');
    return location;
  }

  async jobCheckpoints(jobId: JobId): Promise<CheckpointsReport> {
    this.check('jobCheckpoints');
    const job = this.job(jobId);
    const history = job.savepoints.map((path, i) => ({
      jobId,
      checkpointId: i + 1,
      kind: 'savepoint' as const,
      path,
      timestamp: job.startTime + i,
      completedAt: job.startTime + i + 1,
      bytes: 0,
      files: 0,
      discarded: false,
    }));
    return { history, pending: [], retained: [], attempt: 0 };
  }

  async overview(): Promise<ClusterOverview> {
    this.check('overview');
    const used = [...this.jobs.values()].filter((j) => !this.terminal(j)).reduce((n, j) => n + j.artifact.parallelism, 0);
    return {
      taskExecutors: 2,
      slotsTotal: SLOTS_TOTAL,
      slotsFree: Math.max(0, SLOTS_TOTAL - used),
      taskExecutorsExpected: 2,
      executors: [
        { id: 'te-0' as TaskExecutorId, endpoint: '127.0.0.1:6124', slots: SLOTS_TOTAL / 2, pid: 4242 },
        { id: 'te-1' as TaskExecutorId, endpoint: '127.0.0.1:6125', slots: SLOTS_TOTAL / 2 },
      ],
    };
  }

  async shutdown(): Promise<void> {
    this.check('shutdown');
    this.shutdowns++;
    this.onShutdown();
  }

  private terminal(job: FakeJob): boolean {
    return TERMINAL_JOB_STATUSES.includes(job.status);
  }

  private job(jobId: JobId): FakeJob {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new TroupeError('TROUPE_JOB_NOT_FOUND', `no job ${jobId}`);
    return job;
  }

  private check(method: keyof ClusterGateway): void {
    if (!this.failures.has(method)) return;
    const error = this.failures.get(method);
    this.failures.delete(method);
    throw error;
  }
}

let jobCounter = 0;

/** A fresh 32-hex job id per call. */
export function testJobId(): JobId {
  return (++jobCounter).toString(16).padStart(32, 'a') as JobId;
}

/**
 * source (p1) --rebalance--> map (p2) --hash--> reduce → sink (p2, chained), as the DataStream
 * builder shapes it.
 */
export function sampleJobGraph(jobId: JobId = testJobId(), name = 'word count'): JobGraph {
  const v = (s: string): VertexId => s as VertexId;
  const o = (s: string): OperatorId => s as OperatorId;
  return {
    jobId,
    name,
    maxParallelism: 128,
    network: { ...DEFAULT_NETWORK_CONFIG },
    vertices: [
      {
        id: v('source-0'),
        name: 'Source',
        parallelism: 1,
        maxParallelism: 128,
        operators: [{ id: o('source-0'), name: 'Source', kind: 'source', outEdges: ['e0'], chainedOutputs: [] }],
      },
      {
        id: v('map-1'),
        name: 'Map',
        parallelism: 2,
        maxParallelism: 128,
        operators: [{ id: o('map-1'), name: 'Map', kind: 'map', outEdges: ['e1'], chainedOutputs: [] }],
      },
      {
        id: v('reduce-3'),
        name: 'Reduce -> Sink',
        parallelism: 2,
        maxParallelism: 128,
        operators: [
          { id: o('reduce-3'), name: 'Reduce', kind: 'reduce', outEdges: [], chainedOutputs: [1] },
          { id: o('sink-4'), name: 'Sink', kind: 'sink', outEdges: [], chainedOutputs: [] },
        ],
      },
    ],
    edges: [
      { id: 'e0', source: v('source-0'), sourceOperator: o('source-0'), target: v('map-1'), partitioner: 'rebalance' },
      { id: 'e1', source: v('map-1'), sourceOperator: o('map-1'), target: v('reduce-3'), partitioner: 'hash', keyedBy: o('reduce-3') },
    ],
  };
}

export function sampleArtifact(overrides: Partial<JobArtifact> = {}): JobArtifact {
  return { bundle: '"use strict";\nmodule.exports = { default: () => {} };\n', entry: 'word-count.ts', args: ['--words', '10'], parallelism: 2, ...overrides };
}
