/** The Dispatcher: accepts jobs, runs a JobMaster per job, keeps their results. */
import type { Timers } from '../../core/clock.js';
import { TroupeError } from '../../core/errors.js';
import type { JobId } from '../../core/ids.js';
import type { NetworkConfig } from '../../core/job-graph.js';
import { SAVEPOINT_TIMEOUT_MS, type DispatcherAsk, type DispatcherHandle, type DispatcherReplies, type DispatcherTell, type JobArtifact } from '../protocol/dispatcher.js';
import type { CheckpointsReport, JobMasterAsk, JobMasterReplies, JobMasterTell } from '../protocol/job-master.js';
import type { JobResult, JobStatus } from '../protocol/job-status.js';
import type { ResourceManagerHandle } from '../protocol/resource-manager.js';
import { ActorHandle, ActorShell, type AskHandlers, type TellHandlers } from '../runtime/typed-actor.js';
import { JobMasterActor, type JobMasterParams } from '../job-master/job-master.actor.js';
import type { LocalEndpoint } from '../transport/endpoint.js';

type JobMasterChild = ActorHandle<JobMasterTell, JobMasterAsk, JobMasterReplies>;
export const DISPATCHER = 'dispatcher';

export interface DispatcherParams {
  readonly endpoint: LocalEndpoint;
  readonly resourceManager: ResourceManagerHandle;
  readonly retainedResults?: number;
  /** The cluster's network settings for channels between processes (override the job's). */
  readonly network?: Partial<NetworkConfig>;
  /** Clock and timers of the JobMasters' checkpoint coordinators (tests drive them by hand). */
  readonly jobMasterTimers?: Timers;
}

interface JobRecord {
  readonly name: string;
  readonly startTime: number;
  status: JobStatus;
  jobMaster: JobMasterChild | null;
  result: JobResult | null;
  /** The job's shipped code (cluster mode), served to TaskExecutors until the job ends. */
  artifact: JobArtifact | null;
  /** Records of CollectSinks in arrival order, kept after the job ended. */
  collected: unknown[] | null;
  /** The JobMaster's last checkpoints report, taken when the job ended. */
  checkpoints: CheckpointsReport | null;
}

/** How long the JobMaster of an ended job may take to hand over its checkpoints report. */
const FINAL_REPORT_TIMEOUT_MS = 2_000;

export class DispatcherActor extends ActorShell<DispatcherParams, DispatcherTell, DispatcherAsk, DispatcherReplies> {
  private readonly jobs = new Map<JobId, JobRecord>();
  private self!: DispatcherHandle;

  protected override onStart(): void {
    this.self = new ActorHandle<DispatcherTell, DispatcherAsk, DispatcherReplies>(this.actor, DISPATCHER);
    this.params.endpoint.register(DISPATCHER, this.self);
  }

  private job(jobId: JobId): JobRecord {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new TroupeError('TROUPE_JOB_NOT_FOUND', `no job ${jobId}`);
    return job;
  }

  protected readonly tells: TellHandlers<DispatcherTell> = {
    'job-status-changed': ({ jobId, status }) => {
      const job = this.jobs.get(jobId);
      if (job !== undefined && job.result === null) job.status = status;
    },
    'job-terminated': async ({ result, collectedInOrder }) => {
      const job = this.jobs.get(result.jobId);
      if (job === undefined) return;
      job.collected = collectedInOrder;
      job.status = result.status;
      job.result = result;
      job.artifact = null;
      const jm = job.jobMaster;
      // a query of the JobMaster (beside its mailbox): it already ended and waits on nobody
      if (jm !== null) job.checkpoints = await jm.ask({ type: 'checkpoints' }, FINAL_REPORT_TIMEOUT_MS).catch(() => null);
      job.jobMaster = null;
      this.evictOldResults();
      if (jm !== null) await jm.destroy().catch(() => undefined);
    },
  };

  protected override readonly queries: ReadonlySet<DispatcherAsk['type']> = new Set([
    'job-status',
    'job-result',
    'job-metrics',
    'list-jobs',
    'fetch-artifact',
    'collected',
    'cancel-job',
    // a savepoint takes as long as the slowest task's snapshot upload: never inside the mailbox
    'trigger-savepoint',
    'job-checkpoints',
  ] as const);

  protected readonly asks: AskHandlers<DispatcherAsk, DispatcherReplies> = {
    'submit-job': async ({ jobGraph, artifact }) => {
      if (this.jobs.has(jobGraph.jobId)) throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `job ${jobGraph.jobId} was already submitted`);
      const record: JobRecord = { name: jobGraph.name, startTime: Date.now(), status: 'created', jobMaster: null, result: null, artifact: artifact ?? null, collected: null, checkpoints: null };
      this.jobs.set(jobGraph.jobId, record);
      const graph = this.params.network === undefined ? jobGraph : { ...jobGraph, network: { ...jobGraph.network, ...this.params.network } };
      const timers = this.params.jobMasterTimers;
      const params: JobMasterParams = { jobGraph: graph, endpoint: this.params.endpoint, resourceManager: this.params.resourceManager, dispatcher: this.self, ...(timers !== undefined ? { timers } : {}) };
      const jobMaster: JobMasterChild = await this.spawn(JobMasterActor, params, `jobmaster ${jobGraph.jobId}`);
      record.jobMaster = jobMaster;
      return { jobId: jobGraph.jobId };
    },
    'job-status': async ({ jobId }) => {
      const job = this.job(jobId);
      if (job.jobMaster !== null) {
        // a JobMaster busy deploying answers late: fall back to what the Dispatcher knows
        const live = await job.jobMaster.ask({ type: 'status' }, 1_000).catch(() => null);
        if (live !== null) return live;
      }
      const tasks = (job.result?.tasks ?? []).map((t) => ({ attemptId: t.attemptId, state: t.state }));
      return { jobId, name: job.name, status: job.status, startTime: job.startTime, tasks };
    },
    'job-result': ({ jobId }) => this.job(jobId).result,
    'cancel-job': async ({ jobId }) => {
      const job = this.job(jobId);
      if (job.jobMaster !== null) await job.jobMaster.ask({ type: 'cancel' });
      return true as const;
    },
    'job-metrics': async ({ jobId }) => {
      const job = this.job(jobId);
      if (job.jobMaster !== null) return job.jobMaster.ask({ type: 'metrics' });
      return [...(job.result?.tasks ?? [])];
    },
    'fetch-artifact': ({ jobId }) => {
      const job = this.job(jobId);
      if (job.artifact === null) throw new TroupeError('TROUPE_JOB_NOT_FOUND', `job ${jobId} has no shipped code (embedded, or already ended)`);
      return job.artifact;
    },
    collected: async ({ jobId, from }) => {
      const job = this.job(jobId);
      if (job.jobMaster !== null) {
        const slice = await job.jobMaster.ask({ type: 'collected', from });
        return { ...slice, complete: false };
      }
      const all = job.collected ?? [];
      return { records: all.slice(from), next: all.length, complete: job.result !== null };
    },
    'trigger-savepoint': async ({ jobId, dir, stop }) => {
      const job = this.job(jobId);
      if (job.jobMaster === null) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `job ${jobId} is ${job.status}: no savepoint can be taken`);
      return job.jobMaster.ask({ type: 'trigger-savepoint', stop, ...(dir !== undefined ? { dir } : {}) }, SAVEPOINT_TIMEOUT_MS);
    },
    'job-checkpoints': async ({ jobId }) => {
      const job = this.job(jobId);
      if (job.jobMaster !== null) return job.jobMaster.ask({ type: 'checkpoints' });
      return job.checkpoints ?? { history: [], pending: [], retained: [], attempt: 0 };
    },
    'list-jobs': () => [...this.jobs].map(([jobId, j]) => ({ jobId, name: j.name, status: j.status })),
  };

  private evictOldResults(): void {
    const keep = this.params.retainedResults ?? 100;
    const done = [...this.jobs].filter(([, j]) => j.result !== null);
    for (const [id] of done.slice(0, Math.max(0, done.length - keep))) this.jobs.delete(id);
  }
}
