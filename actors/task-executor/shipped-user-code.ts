/**
 * User code on a TaskExecutor in its own process: the job's bundle is fetched once per job from
 * the Dispatcher over the transport, written to this TaskExecutor's work directory, evaluated as
 * its own module (isolated per job), and run with the client's arguments to rebuild the same
 * graph; tasks then find their functions by operator id. No function travels as source text.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TroupeError } from '../../core/errors.js';
import type { JobId } from '../../core/ids.js';
import { StreamExecutionEnvironment } from '../../api/datastream/environment.js';
import { evaluateJobBundle } from '../../api/cli/job-module.js';
import type { DispatcherHandle } from '../protocol/dispatcher.js';
import type { JobUserCode, UserCodeResolver } from '../task/user-code.js';

export class ShippedUserCode implements UserCodeResolver {
  private readonly jobs = new Map<JobId, Promise<JobUserCode>>();

  constructor(
    private readonly dispatcher: DispatcherHandle,
    private readonly workDir: string,
  ) {}

  resolve(jobId: JobId): Promise<JobUserCode> {
    let code = this.jobs.get(jobId);
    if (code === undefined) {
      code = this.load(jobId);
      this.jobs.set(jobId, code);
      code.catch(() => this.jobs.delete(jobId));
    }
    return code;
  }

  release(jobId: JobId): void {
    this.jobs.delete(jobId);
    rmSync(path.join(this.workDir, 'jobs', jobId), { recursive: true, force: true });
  }

  private async load(jobId: JobId): Promise<JobUserCode> {
    const artifact = await this.dispatcher.ask({ type: 'fetch-artifact', jobId }, 60_000);
    const dir = path.join(this.workDir, 'jobs', jobId);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${path.basename(artifact.entry).replace(/\.[^.]*$/, '')}.bundle.js`);
    writeFileSync(file, artifact.bundle);
    const job = evaluateJobBundle(artifact.bundle, file);
    const env = StreamExecutionEnvironment.create({ parallelism: artifact.parallelism });
    try {
      await job(env, [...artifact.args]);
    } catch (error) {
      throw new TroupeError('TROUPE_INVALID_JOB_MODULE', `job module ${artifact.entry} failed while rebuilding its graph on a TaskExecutor: ${error instanceof Error ? error.message : String(error)}`);
    }
    return env.build(artifact.entry).userCode;
  }
}
