/**
 * User code on a TaskExecutor in its own process: the job's bundle is fetched once per job from
 * the Dispatcher over the transport, written to this TaskExecutor's work directory, evaluated as
 * its own module (isolated per job), and run with the client's arguments to rebuild the same
 * graph; tasks then find their functions by operator id. No function travels as source text.
 * The job function runs once per task, so every subtask gets its own function objects (as
 * Flink's deserialized copies): state a function keeps in `this` is not shared between subtasks.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TroupeError } from '../../core/errors.js';
import type { JobId } from '../../core/ids.js';
import { StreamExecutionEnvironment } from '../../api/datastream/environment.js';
import { evaluateJobBundle, type JobFunction } from '../../api/cli/job-module.js';
import type { DispatcherHandle, JobArtifact } from '../protocol/dispatcher.js';
import type { JobUserCode, UserCodeResolver } from '../task/user-code.js';

interface LoadedJob {
  readonly job: JobFunction;
  readonly artifact: JobArtifact;
}

export class ShippedUserCode implements UserCodeResolver {
  private readonly jobs = new Map<JobId, Promise<LoadedJob>>();

  constructor(
    private readonly dispatcher: DispatcherHandle,
    private readonly workDir: string,
  ) {}

  async resolve(jobId: JobId): Promise<JobUserCode> {
    let loaded = this.jobs.get(jobId);
    if (loaded === undefined) {
      loaded = this.load(jobId);
      this.jobs.set(jobId, loaded);
      loaded.catch(() => this.jobs.delete(jobId));
    }
    const { job, artifact } = await loaded;
    const env = StreamExecutionEnvironment.create({ parallelism: artifact.parallelism });
    try {
      await job(env, [...artifact.args]);
    } catch (error) {
      throw new TroupeError('TROUPE_INVALID_JOB_MODULE', `job module ${artifact.entry} failed while rebuilding its graph on a TaskExecutor: ${error instanceof Error ? error.message : String(error)}`);
    }
    return env.build(artifact.entry).userCode;
  }

  release(jobId: JobId): void {
    this.jobs.delete(jobId);
    rmSync(path.join(this.workDir, 'jobs', jobId), { recursive: true, force: true });
  }

  private async load(jobId: JobId): Promise<LoadedJob> {
    const artifact = await this.dispatcher.ask({ type: 'fetch-artifact', jobId }, 60_000);
    const dir = path.join(this.workDir, 'jobs', jobId);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${path.basename(artifact.entry).replace(/\.[^.]*$/, '')}.bundle.js`);
    writeFileSync(file, artifact.bundle);
    return { job: evaluateJobBundle(artifact.bundle, file), artifact };
  }
}
