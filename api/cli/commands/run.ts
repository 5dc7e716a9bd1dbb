/** `troupe run`: a job module on an embedded cluster, or submitted to a running cluster over REST. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ErrorCode } from '../../../core/errors.js';
import type { JobGraph } from '../../../core/job-graph.js';
import type { JobResult } from '../../../actors/protocol/job-status.js';
import type { JobUserCode } from '../../../actors/task/user-code.js';
import { MiniCluster } from '../../../actors/mini-cluster.js';
import { StreamExecutionEnvironment } from '../../datastream/environment.js';
import { RestClient } from '../../rest/rest-client.js';
import { applyRestore, prepareJobModule } from '../../cluster-client.js';
import { loadJobModule } from '../job-module.js';
import { formatSummary } from '../summary.js';
import { UsageError, type CommandIo } from './io.js';

export const RUN_USAGE = `troupe run <job.ts|job.js> [--parallelism N] [--quiet] [--from-savepoint <dir> [--allow-non-restored-state]]
             [--cluster host:port [--detached] [--collect]] [-- job args...]`;

/** A job that failed on these never ran: the savepoint given does not fit it (exit code 2, bad input). */
const RESTORE_ERRORS: ReadonlySet<ErrorCode> = new Set(['TROUPE_CHECKPOINT_NOT_FOUND', 'TROUPE_SAVEPOINT_INCOMPATIBLE']);

export async function runCommand(argv: string[], io: CommandIo): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const jobArgs = dash >= 0 ? argv.slice(dash + 1) : [];
  const parsed = parseArgs({
    args: own,
    allowPositionals: true,
    options: {
      parallelism: { type: 'string', short: 'p' },
      quiet: { type: 'boolean', short: 'q' },
      cluster: { type: 'string', short: 'c' },
      detached: { type: 'boolean', short: 'd' },
      collect: { type: 'boolean' },
      'from-savepoint': { type: 'string', short: 's' },
      'allow-non-restored-state': { type: 'boolean', short: 'n' },
    },
  });
  const file = parsed.positionals[0];
  if (file === undefined || parsed.positionals.length > 1) throw new UsageError('expected exactly one job module');
  const parallelism = parsed.values.parallelism === undefined ? 1 : Number(parsed.values.parallelism);
  const quiet = parsed.values.quiet === true;
  const log = (line: string): void => {
    if (!quiet) io.err(line);
  };
  const name = path.basename(file).replace(/\.[^.]+$/, '');
  const fromSavepoint = parsed.values['from-savepoint'];
  const allowNonRestoredState = parsed.values['allow-non-restored-state'] === true;
  if (allowNonRestoredState && fromSavepoint === undefined) throw new UsageError('--allow-non-restored-state needs --from-savepoint');
  const restore = { ...(fromSavepoint !== undefined ? { fromSavepoint } : {}), allowNonRestoredState };
  if (parsed.values.cluster === undefined) {
    if (parsed.values.detached === true || parsed.values.collect === true) throw new UsageError('--detached and --collect need --cluster');
    const job = await loadJobModule(file);
    const env = StreamExecutionEnvironment.create({ parallelism });
    await job(env, jobArgs);
    applyRestore(env, restore);
    const { graph, userCode } = env.build(name);
    return runEmbedded(graph, userCode, name, io, log);
  }

  // cluster: the client builds the graph from the very bundle it ships
  const { graph, artifact } = await prepareJobModule(file, { parallelism, args: jobArgs, name, ...restore });
  const client = new RestClient(parsed.values.cluster);
  const { jobId } = await client.submitJob(graph, artifact);
  log(`troupe: submitted '${name}' to ${parsed.values.cluster} as job ${jobId}`);
  if (parsed.values.detached === true) {
    io.out(jobId);
    return 0;
  }
  if (parsed.values.collect === true) {
    for await (const record of client.collect(jobId)) io.out(JSON.stringify(record));
  }
  const result = await client.waitForResult(jobId);
  log(formatSummary(result));
  return reportEnd(result, io);
}

/** 0 finished; 2 the savepoint does not fit the job; 1 otherwise. */
function reportEnd(result: JobResult, io: CommandIo): number {
  if (result.status === 'finished') return 0;
  if (result.error === undefined) return 1;
  io.err(`troupe: ${result.error.code}: ${result.error.message}`);
  return RESTORE_ERRORS.has(result.error.code) ? 2 : 1;
}

async function runEmbedded(graph: JobGraph, userCode: JobUserCode, name: string, io: CommandIo, log: (line: string) => void): Promise<number> {
  const cluster = await MiniCluster.start({ slotsPerTaskExecutor: Math.max(...graph.vertices.map((v) => v.parallelism)) });
  try {
    log(`troupe: running '${name}' embedded: ${graph.vertices.length} task vertices, ${graph.vertices.map((v) => `${v.name} x${v.parallelism}`).join(' | ')}`);
    const jobId = await cluster.submit(graph, userCode);
    const progress = setInterval(() => {
      cluster.metrics(jobId).then(
        (tasks) => log(`troupe: ${tasks.reduce((n, t) => n + t.recordsIn, 0)} records in, ${tasks.filter((t) => t.state === 'running').length} tasks running`),
        () => undefined,
      );
    }, 1000);
    const result = await cluster.result(jobId).finally(() => clearInterval(progress));
    for (const records of Object.values(result.collected)) for (const r of records) io.out(JSON.stringify(r));
    log(formatSummary(result));
    return reportEnd(result, io);
  } finally {
    await cluster.close();
  }
}
