/**
 * `troupe savepoint <job id> [--dir <dir>] [--stop]`: takes a savepoint of a running job and prints
 * its directory (the argument of `troupe run --from-savepoint`) once it completed; `--stop`
 * cancels the job right after. `troupe checkpoints <job id>`: the job's checkpoint report as JSON.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { JobId } from '../../../core/ids.js';
import { RestClient } from '../../rest/rest-client.js';
import { DEFAULT_CLUSTER, UsageError, type CommandIo } from './io.js';

export const SAVEPOINT_USAGE = 'troupe savepoint <job id> [--dir <dir>] [--stop] [--cluster host:port]';
export const CHECKPOINTS_USAGE = 'troupe checkpoints <job id> [--cluster host:port]';

function jobIdOf(positionals: string[]): JobId {
  const jobId = positionals[0];
  if (jobId === undefined || positionals.length > 1) throw new UsageError('expected exactly one job id');
  return jobId as JobId;
}

export async function savepointCommand(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { cluster: { type: 'string', short: 'c' }, dir: { type: 'string', short: 'd' }, stop: { type: 'boolean' } },
  });
  const jobId = jobIdOf(parsed.positionals);
  const dir = parsed.values.dir === undefined ? undefined : path.resolve(parsed.values.dir);
  const stop = parsed.values.stop === true;
  const location = await new RestClient(parsed.values.cluster ?? DEFAULT_CLUSTER).triggerSavepoint(jobId, { stop, ...(dir !== undefined ? { dir } : {}) });
  io.out(location);
  io.err(`troupe: savepoint of job ${jobId} completed${stop ? '; the job is cancelled' : ''}`);
  return 0;
}

export async function checkpointsCommand(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseArgs({ args: argv, allowPositionals: true, options: { cluster: { type: 'string', short: 'c' } } });
  const report = await new RestClient(parsed.values.cluster ?? DEFAULT_CLUSTER).checkpoints(jobIdOf(parsed.positionals));
  io.out(JSON.stringify(report, null, 2));
  return 0;
}
