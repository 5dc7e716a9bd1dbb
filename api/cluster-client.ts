/**
 * Talking to a running cluster from a program, as `troupe run --cluster` does: submit a job module
 * (bundled with its dependencies, graph built from that very bundle), follow it, stream or await
 * the records of its CollectSinks.
 */
import path from 'node:path';
import { TroupeError } from '../core/errors.js';
import type { JobId } from '../core/ids.js';
import type { JobGraph } from '../core/job-graph.js';
import type { JobResult } from '../actors/protocol/job-status.js';
import { bundleJobModule, evaluateJobBundle } from './cli/job-module.js';
import { StreamExecutionEnvironment } from './datastream/environment.js';
import type { JobArtifact } from './rest/gateway.js';
import type { CheckpointsDto } from './rest/dto.js';
import { RestClient, type RestClientOptions } from './rest/rest-client.js';

export interface SubmitOptions {
  readonly parallelism?: number;
  readonly args?: readonly string[];
  /** Job name (default: the file name without extension). */
  readonly name?: string;
  /** The job's buffer timeout (default: the environment's, 100 ms). */
  readonly bufferTimeoutMs?: number;
  /** Start from this savepoint (or retained chk-<n> directory); a relative path is resolved here. */
  readonly fromSavepoint?: string;
  /** With fromSavepoint: drop the state of operators the job no longer has instead of refusing. */
  readonly allowNonRestoredState?: boolean;
}

export interface PreparedJob {
  readonly graph: JobGraph;
  readonly artifact: JobArtifact;
}

/** Bundles a job module for shipping and builds its graph from that bundle. */
export async function prepareJobModule(file: string, options: SubmitOptions = {}): Promise<PreparedJob> {
  const parallelism = options.parallelism ?? 1;
  const args = [...(options.args ?? [])];
  const bundle = await bundleJobModule(file, { ship: true });
  const job = evaluateJobBundle(bundle, path.resolve(file));
  const env = StreamExecutionEnvironment.create({ parallelism, ...(options.bufferTimeoutMs !== undefined ? { bufferTimeoutMs: options.bufferTimeoutMs } : {}) });
  await job(env, args);
  applyRestore(env, options);
  const { graph } = env.build(options.name ?? path.basename(file).replace(/\.[^.]+$/, ''));
  return { graph, artifact: { bundle, entry: path.basename(file), args, parallelism } };
}

/** `--from-savepoint` over what the job module itself set: the command line decides. */
export function applyRestore(env: StreamExecutionEnvironment, options: Pick<SubmitOptions, 'fromSavepoint' | 'allowNonRestoredState'>): void {
  if (options.fromSavepoint === undefined) {
    if (options.allowNonRestoredState === true) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'allowNonRestoredState needs fromSavepoint');
    return;
  }
  env.restoreFrom(path.resolve(options.fromSavepoint), { allowNonRestoredState: options.allowNonRestoredState === true });
}

export class ClusterClient {
  readonly rest: RestClient;

  /** `address`: the cluster's REST address, `host:port` or `http://host:port`. */
  constructor(address: string, options: RestClientOptions = {}) {
    this.rest = new RestClient(address, options);
  }

  async submitJobModule(file: string, options: SubmitOptions = {}): Promise<JobId> {
    const { graph, artifact } = await prepareJobModule(file, options);
    const { jobId } = await this.rest.submitJob(graph, artifact);
    return jobId;
  }

  /** The CollectSink records of a job as they arrive (JSON-safe: bigint → string, bytes → { $base64 }). */
  collect(jobId: JobId): AsyncIterable<unknown> {
    return this.rest.collect(jobId);
  }

  /** Every CollectSink record of the job, once it ended, with its result. */
  async collectAll(jobId: JobId): Promise<{ records: unknown[]; result: JobResult }> {
    const records: unknown[] = [];
    for await (const r of this.rest.collect(jobId)) records.push(r);
    return { records, result: await this.rest.waitForResult(jobId) };
  }

  result(jobId: JobId): Promise<JobResult> {
    return this.rest.waitForResult(jobId);
  }

  cancel(jobId: JobId): Promise<void> {
    return this.rest.cancelJob(jobId);
  }

  /** Takes a savepoint and resolves with its directory once it completed; `stop` cancels the job after it. */
  savepoint(jobId: JobId, options: { readonly dir?: string; readonly stop?: boolean } = {}): Promise<string> {
    return this.rest.triggerSavepoint(jobId, { ...options, ...(options.dir !== undefined ? { dir: path.resolve(options.dir) } : {}) });
  }

  checkpoints(jobId: JobId): Promise<CheckpointsDto> {
    return this.rest.checkpoints(jobId);
  }
}
