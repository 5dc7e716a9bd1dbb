#!/usr/bin/env node
/** The `troupe` command line. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TroupeError } from '../../core/errors.js';
import { MiniCluster } from '../../actors/mini-cluster.js';
import { StreamExecutionEnvironment } from '../datastream/environment.js';
import { loadJobModule } from './job-module.js';
import { formatSummary } from './summary.js';

const USAGE = `usage:
  troupe run <job.ts|job.js> [--parallelism N] [--quiet] [-- job args...]

Runs a job module (a file exporting default (env, args) => void) on an embedded cluster,
prints progress and a summary. Exit code 0: finished; 1: the job failed; 2: bad input.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'run') {
    console.error(`troupe: unknown command '${command}'\n${USAGE}`);
    return 2;
  }
  const dash = rest.indexOf('--');
  const own = dash >= 0 ? rest.slice(0, dash) : rest;
  const jobArgs = dash >= 0 ? rest.slice(dash + 1) : [];
  let parsed;
  try {
    parsed = parseArgs({ args: own, allowPositionals: true, options: { parallelism: { type: 'string', short: 'p' }, quiet: { type: 'boolean', short: 'q' } } });
  } catch (error) {
    console.error(`troupe run: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const file = parsed.positionals[0];
  if (file === undefined || parsed.positionals.length > 1) {
    console.error(`troupe run: expected exactly one job module\n${USAGE}`);
    return 2;
  }
  const quiet = parsed.values.quiet === true;
  const log = (line: string): void => {
    if (!quiet) console.error(line);
  };
  let cluster: MiniCluster | null = null;
  try {
    const parallelism = parsed.values.parallelism === undefined ? 1 : Number(parsed.values.parallelism);
    const job = await loadJobModule(file);
    const env = StreamExecutionEnvironment.create({ parallelism });
    await job(env, jobArgs);
    const name = path.basename(file).replace(/\.[^.]+$/, '');
    const { graph, userCode } = env.build(name);
    cluster = await MiniCluster.start({ slotsPerTaskExecutor: Math.max(...graph.vertices.map((v) => v.parallelism)) });
    log(`troupe: running '${name}' embedded: ${graph.vertices.length} task vertices, ${graph.vertices.map((v) => `${v.name} x${v.parallelism}`).join(' | ')}`);
    const jobId = await cluster.submit(graph, userCode);
    const c = cluster;
    const progress = setInterval(() => {
      c.metrics(jobId).then(
        (tasks) => log(`troupe: ${tasks.reduce((n, t) => n + t.recordsIn, 0)} records in, ${tasks.filter((t) => t.state === 'running').length} tasks running`),
        () => undefined,
      );
    }, 1000);
    const result = await cluster.result(jobId).finally(() => clearInterval(progress));
    for (const records of Object.values(result.collected)) for (const r of records) console.log(JSON.stringify(r));
    log(formatSummary(result));
    return result.status === 'finished' ? 0 : 1;
  } catch (error) {
    if (error instanceof TroupeError) {
      console.error(`troupe: ${error.code}: ${error.message}`);
      return error.spec.domain === 'user' && error.code !== 'TROUPE_USER_FUNCTION_FAILED' ? 2 : 1;
    }
    console.error('troupe: unexpected error', error);
    return 1;
  } finally {
    await cluster?.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
