/**
 * Remote mode on one machine: three `troupe agent`s on 127.0.0.2, 127.0.0.3 and 127.0.0.4 (all of
 * 127/8 is loopback on Linux) each start one 2-slot TaskExecutor process for a JobManager on
 * 127.0.0.1. Exact results at parallelism 6, where the TaskExecutors listen, and records that are
 * hard to carry (non-ASCII, lone surrogates, bytes, bigints, Map/Set/Date, 1 MiB strings) crossing
 * hosts through a keyBy.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Agent } from '../../actors/agent/agent.js';
import { startJobManager, type RunningJobManager } from '../../actors/cluster/job-manager.js';
import type { OverviewDto } from '../../api/rest/dto.js';
import { RestClient } from '../../api/rest/rest-client.js';
import { parseClusterConfig } from '../../cluster-config/cluster-config.js';
import { collectAll, submit } from '../helpers/cluster.js';

const fixture = (...parts: string[]): string => path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'cluster', ...parts);

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
const MAX_RECORD_BYTES = 2 * 1024 * 1024;

interface Remote {
  readonly jm: RunningJobManager;
  readonly client: RestClient;
  readonly agents: readonly Agent[];
  readonly overview: OverviewDto;
}

let remote: Remote | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

test.before(async () => {
  const workDir = mkdtempSync(path.join(tmpdir(), 'troupe-remote-test-'));
  cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
  const secret = randomBytes(16).toString('hex'); // 32 characters
  const agentLog: string[] = [];
  const agents: Agent[] = [];
  for (const host of HOSTS) {
    const agent = await Agent.start({ bind: host, port: 0, secret, workDir: path.join(workDir, `agent-${host}`), log: (l) => agentLog.push(l) });
    agents.push(agent);
    cleanups.unshift(async () => {
      const pids = agent.pids;
      await agent.close();
      for (const pid of pids) killQuietly(pid);
    });
  }
  const config = parseClusterConfig(
    {
      name: 'loopback-test',
      mode: 'remote',
      secret,
      jobmanager: { address: '127.0.0.1', rpcPort: 0, restPort: 0 },
      taskExecutors: HOSTS.map((host, i) => ({ host, agentPort: agents[i]!.port, slots: 2 })),
      network: { maxRecordBytes: MAX_RECORD_BYTES },
      workDir,
    },
    {},
  );
  const jm = await startJobManager(config);
  cleanups.unshift(() => jm.close());
  const client = new RestClient(jm.restUrl);
  remote = { jm, client, agents, overview: await client.overview() };
});

test.after.always(async () => {
  for (const cleanup of cleanups) await cleanup();
});

function cluster(): Remote {
  if (remote === undefined) throw new Error('the remote cluster did not start');
  return remote;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

test.serial('remote - each agent runs one 2-slot TaskExecutor, listening on the agent\'s own address', (t) => {
  const { overview, agents } = cluster();
  t.is(overview.taskExecutors, 3);
  t.is(overview.slotsTotal, 6);
  const executors = [...overview.executors].sort((a, b) => a.id.localeCompare(b.id));
  t.deepEqual(
    executors.map((e) => [e.id, e.endpoint.replace(/:\d+$/, ''), e.slots]),
    [
      ['te-0', '127.0.0.2', 2],
      ['te-1', '127.0.0.3', 2],
      ['te-2', '127.0.0.4', 2],
    ],
  );
  executors.forEach((e, i) => {
    t.deepEqual(agents[i]!.pids, [e.pid!], `${e.id} is the one process of the agent on ${HOSTS[i]}`);
    t.is(readFileSync(`/proc/${e.pid!}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim(), `troupe-taskexecutor ${e.id}`);
  });
});

interface KeyTotal {
  key: string;
  count: number;
  sum: number;
}

test.serial('remote - a keyed job at parallelism 6 over three hosts yields exactly the hand-computed totals', async (t) => {
  t.timeout(60_000);
  const { client } = cluster();
  // 0..11999 with key k<i % 12>: each key gets 1000 records i = 12j + r, so its count runs
  // 1..1000 and its sum ends at 12 * (0 + ... + 999) + 1000 r = 5,994,000 + 1000 r
  const jobId = await submit(client, fixture('keyed-count.ts'), 6, ['12000', '12']);
  const streamed = (await collectAll(client, jobId)) as KeyTotal[];
  const result = await client.waitForResult(jobId);
  t.is(result.status, 'finished', JSON.stringify(result.error));
  t.is(streamed.length, 12_000);
  const counts = new Map<string, number[]>();
  const last = new Map<string, number>();
  for (const r of streamed) {
    counts.set(r.key, [...(counts.get(r.key) ?? []), r.count]);
    last.set(r.key, r.sum);
  }
  const oneToThousand = Array.from({ length: 1000 }, (_, i) => i + 1);
  for (const [key, list] of counts) t.deepEqual(list, oneToThousand, `counts of ${key}`);
  t.deepEqual(Object.fromEntries([...last].sort(([a], [b]) => Number(a.slice(1)) - Number(b.slice(1)))), {
    k0: 5_994_000,
    k1: 5_995_000,
    k2: 5_996_000,
    k3: 5_997_000,
    k4: 5_998_000,
    k5: 5_999_000,
    k6: 6_000_000,
    k7: 6_001_000,
    k8: 6_002_000,
    k9: 6_003_000,
    k10: 6_004_000,
    k11: 6_005_000,
  });
  t.deepEqual(Object.values(result.collected)[0], streamed);
  // every subtask ran: all six slots were used
  t.is(result.tasks.length, 12);
});

interface ExoticRecord {
  id: number;
  key: string;
  text: string;
  lone: string;
  bytes: Buffer;
  u8: Uint8Array;
  big: bigint;
  nested: Map<unknown, unknown>;
  missing: undefined;
  huge?: string;
}

// the generator the job bundles (plain JS, shared so the test knows what the job made)
const exotic = createRequire(__filename)(fixture('exotic-record.js')) as { isHuge(id: number): boolean; makeRecord(id: number): ExoticRecord };

/** A record as REST shows it: bigint → decimal string, bytes → {$base64}, Map → {}, undefined field dropped. */
function jsonSafe(r: ExoticRecord): Record<string, unknown> {
  return {
    id: r.id,
    key: r.key,
    text: r.text,
    lone: r.lone,
    bytes: { $base64: r.bytes.toString('base64') },
    u8: { $base64: Buffer.from(r.u8).toString('base64') },
    big: r.big.toString(),
    nested: {},
    ...(r.huge !== undefined ? { huge: r.huge } : {}),
  };
}

test.serial('remote - non-ASCII, binary, bigint, Map/Set/Date and 1 MiB records cross hosts unchanged and come out of REST in JSON-safe form', async (t) => {
  t.timeout(60_000);
  const { client, overview } = cluster();
  const sample = exotic.makeRecord(7);
  t.true(exotic.isHuge(7));
  t.true(Buffer.byteLength(sample.huge!, 'utf8') > 1024 * 1024, 'the huge string is over 1 MiB');
  t.regex(sample.lone, /\uDC00 #/, 'the lone surrogate is there');

  const n = 60;
  const jobId = await submit(client, fixture('exotic-records.ts'), 6, [String(n)]);
  const streamed = (await collectAll(client, jobId)) as Record<string, unknown>[];
  const result = await client.waitForResult(jobId);
  // a record that changed on the way fails the job inside its Check operator
  t.is(result.status, 'finished', JSON.stringify(result.error));

  const byId = (a: Record<string, unknown>, b: Record<string, unknown>): number => (a.id as number) - (b.id as number);
  const expected = Array.from({ length: n }, (_, id) => jsonSafe(exotic.makeRecord(id)));
  const strip = ({ madeIn: _m, checkedIn: _c, ...rest }: Record<string, unknown>): Record<string, unknown> => rest;
  t.deepEqual([...streamed].sort(byId).map(strip), expected);
  t.deepEqual(((Object.values(result.collected)[0] ?? []) as Record<string, unknown>[]).sort(byId).map(strip), expected);

  // they did travel: made and checked by TaskExecutors, most of them on different hosts
  const hostOf = new Map(overview.executors.map((e) => [e.pid, e.endpoint.replace(/:\d+$/, '')]));
  const crossed = streamed.filter((r) => {
    const from = hostOf.get(r.madeIn as number);
    const to = hostOf.get(r.checkedIn as number);
    t.truthy(from, `record ${String(r.id)} made in a TaskExecutor`);
    t.truthy(to, `record ${String(r.id)} checked in a TaskExecutor`);
    return from !== to;
  });
  t.log(`records that crossed hosts: ${crossed.map((r) => r.id as number).sort((a, b) => a - b).join(', ')}`);
  t.true(crossed.length >= n / 3, `${crossed.length} records crossed hosts`);
  t.true(crossed.some((r) => exotic.isHuge(r.id as number)), 'a 1 MiB record crossed hosts');
});

test.serial('remote - a record above network.maxRecordBytes fails the job with TROUPE_RECORD_TOO_LARGE', async (t) => {
  t.timeout(60_000);
  const { client } = cluster();
  const jobId = await submit(client, fixture('too-large.ts'), 6, [String(MAX_RECORD_BYTES + 1024)]);
  const result = await client.waitForResult(jobId, { timeoutMs: 30_000 });
  t.is(result.status, 'failed');
  t.is(result.error?.code, 'TROUPE_RECORD_TOO_LARGE', JSON.stringify(result.error));
  t.regex(result.error?.message ?? '', new RegExp(`maximum record size is ${MAX_RECORD_BYTES} bytes`));
});
