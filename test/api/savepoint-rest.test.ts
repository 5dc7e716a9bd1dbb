/**
 * POST /jobs/:jobId/savepoints and GET /jobs/:jobId/checkpoints through fastify's inject (body
 * validation, what reaches the gateway, error mapping), RestClient over a socket, and the
 * `troupe savepoint` / `troupe checkpoints` commands against it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import test from 'ava';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { CheckpointsReport } from '../../actors/protocol/job-master.js';
import { TroupeError } from '../../core/errors.js';
import type { JobId } from '../../core/ids.js';
import { buildApp } from '../../api/rest/app.js';
import type { ClusterGateway } from '../../api/rest/gateway.js';
import { RestClient } from '../../api/rest/rest-client.js';
import { startRestServer } from '../../api/rest/server.js';
import { main } from '../../api/cli/troupe.js';
import { FakeGateway, sampleArtifact, sampleJobGraph, testJobId } from '../helpers/fake-gateway.js';

interface SavepointCall {
  readonly jobId: JobId;
  readonly dir?: string;
  readonly stop: boolean;
}

/** The fake gateway with savepoints: calls are recorded, the next one can be told to fail. */
class Cluster {
  readonly calls: SavepointCall[] = [];
  /** Thrown by the next calls, one each. */
  readonly failures: unknown[] = [];
  report: CheckpointsReport & { readonly internal?: string } = { history: [], pending: [], retained: [], attempt: 0 };
  readonly gateway: FakeGateway & Pick<ClusterGateway, 'triggerSavepoint' | 'jobCheckpoints'>;

  constructor() {
    // own properties: they stand whether or not FakeGateway has methods of these names
    this.gateway = Object.assign(new FakeGateway(), {
      triggerSavepoint: async (jobId: JobId, options: { dir?: string; stop: boolean }): Promise<string> => {
        this.known(jobId);
        this.failIfTold();
        this.calls.push({ jobId, ...options });
        if (options.stop) this.gateway.finish(jobId, 'cancelled');
        return path.join(options.dir ?? '/var/troupe/savepoints', `savepoint-${jobId.slice(0, 6)}-${this.calls.length}`);
      },
      jobCheckpoints: async (jobId: JobId): Promise<CheckpointsReport> => {
        this.known(jobId);
        this.failIfTold();
        return this.report;
      },
    });
  }

  app(): FastifyInstance {
    return buildApp(this.gateway);
  }

  private known(jobId: JobId): void {
    if (!this.gateway.jobs.has(jobId)) throw new TroupeError('TROUPE_JOB_NOT_FOUND', `no job ${jobId}`);
  }

  private failIfTold(): void {
    if (this.failures.length > 0) throw this.failures.shift();
  }
}

async function setup(): Promise<{ cluster: Cluster; app: FastifyInstance; jobId: JobId }> {
  const cluster = new Cluster();
  const app = cluster.app();
  const graph = sampleJobGraph();
  await cluster.gateway.submitJob(graph, sampleArtifact());
  return { cluster, app, jobId: graph.jobId };
}

const savepoint = (app: FastifyInstance, jobId: string, payload?: unknown): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: `/jobs/${jobId}/savepoints`, ...(payload !== undefined ? { payload: payload as object } : {}) });

function errorOf(res: LightMyRequestResponse): { error: string; code: string } {
  const body = res.json<{ error: string; code: string }>();
  if (Object.keys(body).sort().join() !== 'code,error') throw new Error(`not an error body: ${res.body}`);
  return body;
}

// ---- POST /jobs/:jobId/savepoints ----

test('savepoint rest - an empty body takes a savepoint into the default directory, keeps the job running, answers 200 with its location', async (t) => {
  const { cluster, app, jobId } = await setup();
  const res = await savepoint(app, jobId, {});
  t.is(res.statusCode, 200);
  t.deepEqual(res.json(), { location: `/var/troupe/savepoints/savepoint-${jobId.slice(0, 6)}-1` });
  t.deepEqual(cluster.calls, [{ jobId, stop: false }]);
  t.is(cluster.gateway.jobs.get(jobId)?.status, 'running');
});

test('savepoint rest - a request without a body is a savepoint with the defaults', async (t) => {
  const { cluster, app, jobId } = await setup();
  const res = await savepoint(app, jobId);
  t.is(res.statusCode, 200);
  t.deepEqual(cluster.calls, [{ jobId, stop: false }]);
});

test('savepoint rest - target-directory and cancel-job reach the gateway as dir and stop', async (t) => {
  const { cluster, app, jobId } = await setup();
  const res = await savepoint(app, jobId, { 'target-directory': '/mnt/sp', 'cancel-job': true });
  t.is(res.statusCode, 200);
  t.deepEqual(res.json(), { location: `/mnt/sp/savepoint-${jobId.slice(0, 6)}-1` });
  t.deepEqual(cluster.calls, [{ jobId, dir: '/mnt/sp', stop: true }]);
  t.is(cluster.gateway.jobs.get(jobId)?.status, 'cancelled');
});

test('savepoint rest - a relative target directory, a cancel-job that is not a boolean and unknown fields are refused together with 400', async (t) => {
  const { cluster, app, jobId } = await setup();
  const res = await savepoint(app, jobId, { 'target-directory': 'sp', 'cancel-job': 'yes', formatType: 'NATIVE' });
  t.is(res.statusCode, 400);
  const { code, error } = errorOf(res);
  t.is(code, 'TROUPE_INVALID_REQUEST');
  t.is(error, 'invalid request body: "target-directory" must be an absolute path; "cancel-job" must be a boolean; "formatType" is not allowed');
  t.deepEqual(cluster.calls, []);
});

test('savepoint rest - a body that is not an object, and a query parameter, are refused with 400', async (t) => {
  const { cluster, app, jobId } = await setup();
  const array = await app.inject({ method: 'POST', url: `/jobs/${jobId}/savepoints`, payload: '[]', headers: { 'content-type': 'application/json' } });
  t.is(array.statusCode, 400);
  t.is(errorOf(array).code, 'TROUPE_INVALID_REQUEST');
  const query = await app.inject({ method: 'POST', url: `/jobs/${jobId}/savepoints?cancel-job=true`, payload: {} });
  t.is(query.statusCode, 400);
  t.deepEqual(errorOf(query), { code: 'TROUPE_INVALID_REQUEST', error: 'invalid request query: "cancel-job" is not allowed' });
  t.deepEqual(cluster.calls, []);
});

test('savepoint rest - a job id that is not 32 lowercase hex digits is refused with 400 on both routes', async (t) => {
  const { app } = await setup();
  for (const res of [await savepoint(app, 'ABC', {}), await app.inject({ method: 'GET', url: '/jobs/ABC/checkpoints' })]) {
    t.is(res.statusCode, 400);
    t.deepEqual(errorOf(res), { code: 'TROUPE_INVALID_REQUEST', error: 'invalid request path: "jobId" must be 32 lowercase hex digits' });
  }
});

test('savepoint rest - an unknown job is 404 TROUPE_JOB_NOT_FOUND on both routes', async (t) => {
  const { app } = await setup();
  const unknown = testJobId();
  for (const res of [await savepoint(app, unknown, {}), await app.inject({ method: 'GET', url: `/jobs/${unknown}/checkpoints` })]) {
    t.is(res.statusCode, 404);
    t.deepEqual(errorOf(res), { code: 'TROUPE_JOB_NOT_FOUND', error: `no job ${unknown}` });
  }
});

test('savepoint rest - a savepoint that fails keeps its code and the catalog status', async (t) => {
  const { cluster, app, jobId } = await setup();
  const cases = [
    [new TroupeError('TROUPE_INVALID_ARGUMENT', `job ${jobId} is finished: no savepoint can be taken`), 400],
    [{ code: 'TROUPE_CHECKPOINT_DECLINED', message: 'task Map#1 was not running' }, 500],
    [new TroupeError('TROUPE_REQUEST_TIMEOUT', "jobmaster 'trigger-savepoint' got no reply within 600000 ms"), 504],
  ] as const;
  for (const [failure, status] of cases) {
    cluster.failures.push(failure);
    const res = await savepoint(app, jobId, {});
    t.is(res.statusCode, status);
    t.deepEqual(errorOf(res), failure instanceof TroupeError ? { code: failure.code, error: failure.message } : { code: failure.code, error: failure.message });
  }
});

// ---- GET /jobs/:jobId/checkpoints ----

test('savepoint rest - GET /jobs/:jobId/checkpoints answers the report field by field under its wire names', async (t) => {
  const { cluster, app, jobId } = await setup();
  cluster.report = {
    history: [
      { jobId, checkpointId: 3, kind: 'checkpoint', path: `/cp/${jobId}/chk-3`, timestamp: 1000, completedAt: 1200, bytes: 4096, files: 4, discarded: true },
      { jobId, checkpointId: 4, kind: 'savepoint', path: '/sp/savepoint-1', timestamp: 2000, completedAt: 2100, bytes: 512, files: 2, discarded: false },
    ],
    pending: [{ checkpointId: 5, kind: 'checkpoint' }],
    retained: [3],
    attempt: 1,
    internal: 'not for the wire',
  };
  const res = await app.inject({ method: 'GET', url: `/jobs/${jobId}/checkpoints` });
  t.is(res.statusCode, 200);
  t.deepEqual(res.json(), {
    history: [
      { id: 3, kind: 'checkpoint', path: `/cp/${jobId}/chk-3`, triggeredAt: 1000, completedAt: 1200, bytes: 4096, files: 4, discarded: true },
      { id: 4, kind: 'savepoint', path: '/sp/savepoint-1', triggeredAt: 2000, completedAt: 2100, bytes: 512, files: 2, discarded: false },
    ],
    pending: [{ id: 5, kind: 'checkpoint' }],
    retained: [3],
    attempt: 1,
  });
});

// ---- RestClient and the CLI over a socket ----

async function served(t: import('ava').ExecutionContext): Promise<{ cluster: Cluster; jobId: JobId; address: string }> {
  const { cluster, jobId } = await setup();
  const server = await startRestServer(cluster.gateway, { host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  return { cluster, jobId, address: server.url };
}

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

test('savepoint rest - RestClient.triggerSavepoint resolves with the location; checkpoints with the report', async (t) => {
  const { cluster, jobId, address } = await served(t);
  const client = new RestClient(address);
  t.is(await client.triggerSavepoint(jobId, { dir: '/mnt/sp' }), `/mnt/sp/savepoint-${jobId.slice(0, 6)}-1`);
  t.is(await client.triggerSavepoint(jobId, { stop: true }), `/var/troupe/savepoints/savepoint-${jobId.slice(0, 6)}-2`);
  t.deepEqual(cluster.calls, [
    { jobId, dir: '/mnt/sp', stop: false },
    { jobId, stop: true },
  ]);
  t.deepEqual(await client.checkpoints(jobId), { history: [], pending: [], retained: [], attempt: 0 });
});

test('savepoint rest - RestClient.triggerSavepoint errors are coded: unknown job, unreachable cluster, no answer in time', async (t) => {
  const { address } = await served(t);
  const missing = await t.throwsAsync(new RestClient(address).triggerSavepoint(testJobId()), { instanceOf: TroupeError });
  t.is(missing?.code, 'TROUPE_JOB_NOT_FOUND');

  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const unreachable = await t.throwsAsync(new RestClient(`127.0.0.1:${port}`).triggerSavepoint(testJobId()), { instanceOf: TroupeError });
  t.is(unreachable?.code, 'TROUPE_PEER_UNREACHABLE');
  t.regex(unreachable?.message ?? '', /ECONNREFUSED/);

  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const slow = await t.throwsAsync(
    new RestClient(`127.0.0.1:${(silent.address() as AddressInfo).port}`).triggerSavepoint(testJobId(), { timeoutMs: 150 }),
    { instanceOf: TroupeError },
  );
  t.is(slow?.code, 'TROUPE_REQUEST_TIMEOUT');
  t.regex(slow?.message ?? '', /within 150 ms/);
});

test('savepoint rest - troupe savepoint prints the location, resolves --dir, --stop cancels the job', async (t) => {
  const { cluster, jobId, address } = await served(t);
  const r = await cli(['savepoint', jobId, '--cluster', address, '--dir', 'sp-here', '--stop']);
  t.is(r.code, 0, r.err.join('\n'));
  const dir = path.resolve('sp-here');
  t.deepEqual(r.out, [path.join(dir, `savepoint-${jobId.slice(0, 6)}-1`)]);
  t.deepEqual(cluster.calls, [{ jobId, dir, stop: true }]);
  t.is(cluster.gateway.jobs.get(jobId)?.status, 'cancelled');
});

test('savepoint rest - troupe savepoint of an unknown job exits 2, of no job id exits 2 with the usage', async (t) => {
  const { address } = await served(t);
  const unknown = testJobId();
  const missing = await cli(['savepoint', unknown, '--cluster', address]);
  t.is(missing.code, 2);
  t.deepEqual(missing.err, [`troupe: TROUPE_JOB_NOT_FOUND: no job ${unknown}`]);
  const usage = await cli(['savepoint', '--cluster', address]);
  t.is(usage.code, 2);
  t.regex(usage.err.join('\n'), /expected exactly one job id[\s\S]*troupe savepoint <job id>/);
});

test('savepoint rest - troupe checkpoints prints the report as JSON', async (t) => {
  const { cluster, jobId, address } = await served(t);
  cluster.report = { history: [], pending: [{ checkpointId: 1, kind: 'savepoint' }], retained: [], attempt: 0 };
  const r = await cli(['checkpoints', jobId, '--cluster', address]);
  t.is(r.code, 0, r.err.join('\n'));
  t.deepEqual(JSON.parse(r.out.join('\n')), { history: [], pending: [{ id: 1, kind: 'savepoint' }], retained: [], attempt: 0 });
});

test('savepoint rest - troupe run --allow-non-restored-state without --from-savepoint exits 2', async (t) => {
  const r = await cli(['run', 'job.ts', '--allow-non-restored-state']);
  t.is(r.code, 2);
  t.regex(r.err.join('\n'), /--allow-non-restored-state needs --from-savepoint/);
});
