/**
 * `troupe cluster start | stop`, `troupe list`, `troupe cancel`, `troupe agent`.
 *
 * `cluster start` runs the JobManager side in a background process (its log in the cluster's
 * work directory) and returns once REST answers and every TaskExecutor registered;
 * `--foreground` keeps it in this process.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CLUSTER_CONFIG, loadClusterConfig, SECRET_ENV_VAR } from '../../../cluster-config/cluster-config.js';
import { TroupeError } from '../../../core/errors.js';
import type { JobId } from '../../../core/ids.js';
import { Agent } from '../../../actors/agent/agent.js';
import { startJobManager } from '../../../actors/cluster/job-manager.js';
import { RestClient } from '../../rest/rest-client.js';
import { DEFAULT_CLUSTER, UsageError, type CommandIo } from './io.js';

export const CLUSTER_USAGE = `troupe cluster start --config <file> [--foreground]
  troupe cluster stop [--cluster host:port | --config <file>]`;
export const LIST_USAGE = 'troupe list [--cluster host:port]';
export const CANCEL_USAGE = 'troupe cancel <job id> [--cluster host:port]';
export const AGENT_USAGE = 'troupe agent [--bind 127.0.0.1] [--port 6161] [--config <file>] [--work-dir <dir>]';

const CLI = path.resolve(__dirname, '..', 'troupe.js');

export async function clusterCommand(argv: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  const parsed = parseArgs({
    args: rest,
    allowPositionals: false,
    options: { config: { type: 'string' }, cluster: { type: 'string', short: 'c' }, foreground: { type: 'boolean' } },
  });
  if (sub === 'start') {
    if (parsed.values.config === undefined) throw new UsageError('cluster start needs --config <file>');
    const config = loadClusterConfig(parsed.values.config);
    if (parsed.values.foreground === true) {
      const jm = await startJobManager(config);
      io.err(`troupe: cluster '${config.name ?? 'cluster'}' up (${config.mode}): REST ${jm.restUrl}, RPC ${jm.endpoint}`);
      const stop = (): void => void jm.close();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      await jm.closed;
      io.err('troupe: cluster stopped');
      return 0;
    }
    return startInBackground(parsed.values.config, config.workDir, `${config.jobmanager.restBind}:${config.jobmanager.restPort}`, io);
  }
  if (sub === 'stop') {
    const address = parsed.values.cluster ?? (parsed.values.config !== undefined ? restAddressOf(parsed.values.config) : DEFAULT_CLUSTER);
    const client = new RestClient(address, { requestTimeoutMs: 10_000 });
    await client.shutdown();
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const up = await client.overview().then(
        () => true,
        () => false,
      );
      if (!up) {
        io.err(`troupe: cluster at ${address} stopped`);
        return 0;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new TroupeError('TROUPE_REQUEST_TIMEOUT', `cluster at ${address} still answers 30 s after shutdown`);
  }
  throw new UsageError(`unknown cluster command '${sub ?? ''}'`);
}

function restAddressOf(file: string): string {
  const c = loadClusterConfig(file);
  return `${c.jobmanager.restBind}:${c.jobmanager.restPort}`;
}

async function startInBackground(configFile: string, workDir: string, restAddress: string, io: CommandIo): Promise<number> {
  mkdirSync(workDir, { recursive: true });
  const logFile = path.join(workDir, 'jobmanager.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [CLI, 'cluster', 'start', '--config', path.resolve(configFile), '--foreground'], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: process.env,
  });
  closeSync(fd);
  const state: { exited: string | null } = { exited: null };
  child.once('exit', (code, signal) => (state.exited = signal ?? `code ${code ?? '?'}`));
  const client = new RestClient(restAddress, { requestTimeoutMs: 2_000 });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && state.exited === null) {
    const overview = await client.overview().catch(() => null);
    if (overview !== null) {
      child.unref();
      writeFileSync(path.join(workDir, 'jobmanager.pid'), String(child.pid));
      io.err(`troupe: cluster up: REST http://${restAddress}, ${overview.taskExecutors} TaskExecutors, ${overview.slotsTotal} slots (log ${logFile})`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (state.exited === null) child.kill('SIGTERM');
  const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
  io.err(`troupe: the cluster did not come up${state.exited !== null ? ` (JobManager process exited: ${state.exited})` : ' within 60 s'}; log ${logFile}:\n${tail}`);
  return 1;
}

export async function listCommand(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseArgs({ args: argv, options: { cluster: { type: 'string', short: 'c' } } });
  const jobs = await new RestClient(parsed.values.cluster ?? DEFAULT_CLUSTER).listJobs();
  for (const j of jobs) io.out(`${j.id}  ${j.status.padEnd(10)}  ${j.name}`);
  if (jobs.length === 0) io.err('troupe: no jobs');
  return 0;
}

export async function cancelCommand(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseArgs({ args: argv, allowPositionals: true, options: { cluster: { type: 'string', short: 'c' } } });
  const jobId = parsed.positionals[0];
  if (jobId === undefined || parsed.positionals.length > 1) throw new UsageError('expected exactly one job id');
  await new RestClient(parsed.values.cluster ?? DEFAULT_CLUSTER).cancelJob(jobId as JobId);
  io.err(`troupe: cancelling job ${jobId}`);
  return 0;
}

export async function agentCommand(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseArgs({
    args: argv,
    options: { bind: { type: 'string' }, port: { type: 'string' }, config: { type: 'string' }, 'work-dir': { type: 'string' } },
  });
  const config = parsed.values.config !== undefined ? loadClusterConfig(parsed.values.config) : null;
  const secret = config?.secret ?? process.env[SECRET_ENV_VAR] ?? '';
  const bind = parsed.values.bind ?? '127.0.0.1';
  const port = parsed.values.port === undefined ? 6161 : Number(parsed.values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got ${parsed.values.port ?? ''}`);
  const workDir = parsed.values['work-dir'] ?? path.join(config?.workDir ?? DEFAULT_CLUSTER_CONFIG.workDir, `agent-${bind}-${port}`);
  const agent = await Agent.start({ bind, port, secret, workDir, log: (l) => io.err(l) });
  io.err(`troupe agent: listening on ${bind}:${agent.port}`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await agent.close();
  return 0;
}
