/**
 * The REST API (api/rest/app.ts) through fastify's inject: no socket, an in-memory gateway.
 * Errors are always `{ error, code }` with the catalog's status.
 */
import test from 'ava';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { TroupeError } from '../../core/errors.js';
import type { JobId } from '../../core/ids.js';
import type { JobGraph } from '../../core/job-graph.js';
import { buildApp } from '../../api/rest/app.js';
import { toJsonSafe } from '../../api/rest/json-safe.js';
import { StreamExecutionEnvironment } from '../../api/datastream/environment.js';
import { CollectSink } from '../../api/datastream/sinks/collect-sink.js';
import { FakeGateway, SLOTS_TOTAL, sampleArtifact, sampleJobGraph, testJobId } from '../helpers/fake-gateway.js';

function setup(options: { bodyLimitBytes?: number } = {}): { app: FastifyInstance; gateway: FakeGateway } {
  const gateway = new FakeGateway();
  return { app: buildApp(gateway, options), gateway };
}

async function submit(app: FastifyInstance, jobGraph: unknown = sampleJobGraph(), artifact: unknown = sampleArtifact()): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/jobs', payload: { jobGraph, artifact } });
}

async function submitted(app: FastifyInstance, jobGraph: JobGraph = sampleJobGraph()): Promise<JobId> {
  const res = await submit(app, jobGraph);
  if (res.statusCode !== 202) throw new Error(`submit failed: ${res.body}`);
  return res.json<{ jobId: JobId }>().jobId;
}

/** A deep copy to break. */
const mutable = (g: JobGraph = sampleJobGraph()): any => JSON.parse(JSON.stringify(g));

interface ErrorBody {
  readonly error: string;
  readonly code: string;
}

function errorOf(res: LightMyRequestResponse): ErrorBody {
  const body = res.json<ErrorBody>();
  if (Object.keys(body).sort().join() !== 'code,error') throw new Error(`not an error body: ${res.body}`);
  return body;
}

// ---- happy paths ----

test('rest - GET /overview reports slots and job counts', async (t) => {
  const { app, gateway } = setup();
  const a = await submitted(app);
  await submitted(app);
  gateway.finish(a);
  const res = await app.inject({ method: 'GET', url: '/overview' });
  t.is(res.statusCode, 200);
  t.deepEqual(res.json(), {
    taskExecutors: 2,
    slotsTotal: SLOTS_TOTAL,
    slotsFree: SLOTS_TOTAL - sampleArtifact().parallelism,
    taskExecutorsExpected: 2,
    executors: [
      { id: 'te-0', endpoint: '127.0.0.1:6124', slots: SLOTS_TOTAL / 2, pid: 4242 },
      { id: 'te-1', endpoint: '127.0.0.1:6125', slots: SLOTS_TOTAL / 2 },
    ],
    jobsRunning: 1,
    jobsFinished: 1,
    jobsFailed: 0,
    jobsCancelled: 0,
  });
});

test('rest - GET /jobs lists every submitted job with id, name and status', async (t) => {
  const { app, gateway } = setup();
  const a = await submitted(app, sampleJobGraph(testJobId(), 'first'));
  const b = await submitted(app, sampleJobGraph(testJobId(), 'second'));
  gateway.finish(b, 'failed');
  const res = await app.inject({ method: 'GET', url: '/jobs' });
  t.is(res.statusCode, 200);
  t.deepEqual(res.json(), {
    jobs: [
      { id: a, name: 'first', status: 'running' },
      { id: b, name: 'second', status: 'failed' },
    ],
  });
});

test('rest - POST /jobs hands a valid job graph and artifact to the gateway and answers 202 with the jobId', async (t) => {
  const { app, gateway } = setup();
  const graph = sampleJobGraph();
  const artifact = sampleArtifact({ args: ['a', '', 'c'] });
  const res = await submit(app, graph, artifact);
  t.is(res.statusCode, 202);
  t.deepEqual(res.json(), { jobId: graph.jobId });
  const stored = gateway.jobs.get(graph.jobId);
  t.deepEqual(stored?.jobGraph, graph);
  t.deepEqual(stored?.artifact, artifact);
});

test('rest - a job graph built by StreamExecutionEnvironment is accepted', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 3 });
  env
    .fromCollection(['a b', 'b c'])
    .flatMap((line) => line.split(' '))
    .keyBy((w) => w)
    .reduce((x, y) => x + y)
    .filter((w) => w.length > 0)
    .sinkTo(new CollectSink<string>());
  const { graph } = env.build('built');
  const { app, gateway } = setup();
  const res = await submit(app, graph, sampleArtifact({ parallelism: 3 }));
  t.is(res.statusCode, 202, res.body);
  t.true(gateway.jobs.has(graph.jobId));
});

test('rest - GET /jobs/:jobId reports the job status with its tasks', async (t) => {
  const { app } = setup();
  const jobId = await submitted(app);
  const res = await app.inject({ method: 'GET', url: `/jobs/${jobId}` });
  t.is(res.statusCode, 200);
  const body = res.json<{ jobId: string; name: string; status: string; startTime: number; tasks: { attemptId: string; state: string }[] }>();
  t.like(body, { jobId, name: 'word count', status: 'running' });
  t.is(typeof body.startTime, 'number');
  t.deepEqual(
    body.tasks.map((x) => x.attemptId),
    ['source-0#0@0', 'map-1#0@0', 'map-1#1@0', 'reduce-3#0@0', 'reduce-3#1@0'],
  );
});

test('rest - GET /jobs/:jobId/execution-result is 202 in-progress while the job runs', async (t) => {
  const { app } = setup();
  const jobId = await submitted(app);
  const res = await app.inject({ method: 'GET', url: `/jobs/${jobId}/execution-result` });
  t.is(res.statusCode, 202);
  t.deepEqual(res.json(), { status: 'in-progress' });
});

test('rest - GET /jobs/:jobId/execution-result is 200 completed with the result once the job finished', async (t) => {
  const { app, gateway } = setup();
  const jobId = await submitted(app);
  gateway.emit(jobId, { word: 'to', count: 2 });
  const result = gateway.finish(jobId);
  const res = await app.inject({ method: 'GET', url: `/jobs/${jobId}/execution-result` });
  t.is(res.statusCode, 200);
  t.deepEqual(res.json(), { status: 'completed', result: JSON.parse(JSON.stringify(result)) });
  t.deepEqual(res.json<{ result: { collected: unknown } }>().result.collected, { 'sink-4': [{ word: 'to', count: 2 }] });
});

test('rest - PATCH /jobs/:jobId?mode=cancel cancels the job and answers 202 {}', async (t) => {
  const { app, gateway } = setup();
  const jobId = await submitted(app);
  const res = await app.inject({ method: 'PATCH', url: `/jobs/${jobId}?mode=cancel` });
  t.is(res.statusCode, 202);
  t.deepEqual(res.json(), {});
  t.is(gateway.jobs.get(jobId)?.status, 'cancelled');
});

test('rest - PATCH /jobs/:jobId with a mode other than cancel is refused and cancels nothing', async (t) => {
  const { app, gateway } = setup();
  const jobId = await submitted(app);
  const res = await app.inject({ method: 'PATCH', url: `/jobs/${jobId}?mode=stop` });
  t.is(res.statusCode, 400);
  t.like(errorOf(res), { code: 'TROUPE_INVALID_REQUEST', error: 'invalid request query: "mode" must be [cancel]' });
  t.is(gateway.jobs.get(jobId)?.status, 'running');
});

test('rest - GET /jobs/:jobId/collected returns the records from an index on, with next and complete', async (t) => {
  const { app, gateway } = setup();
  const jobId = await submitted(app);
  gateway.emit(jobId, 'a', 'b', 'c');
  const first = await app.inject({ method: 'GET', url: `/jobs/${jobId}/collected?from=1` });
  t.is(first.statusCode, 200);
  t.deepEqual(first.json(), { records: ['b', 'c'], next: 3, complete: false });
  gateway.finish(jobId);
  const last = await app.inject({ method: 'GET', url: `/jobs/${jobId}/collected?from=3` });
  t.deepEqual(last.json(), { records: [], next: 3, complete: true });
  const fromStart = await app.inject({ method: 'GET', url: `/jobs/${jobId}/collected` });
  t.deepEqual(fromStart.json(), { records: ['a', 'b', 'c'], next: 3, complete: true });
});

test('rest - collected records are sent JSON-safe: bigint as string, bytes as $base64, undefined in arrays as null', async (t) => {
  const { app, gateway } = setup();
  const jobId = await submitted(app);
  gateway.emit(jobId, 12345678901234567890n, Buffer.from('hi'), { bytes: new Uint8Array([1, 2, 3]), nested: [undefined, 1n] }, [undefined]);
  const res = await app.inject({ method: 'GET', url: `/jobs/${jobId}/collected` });
  t.is(res.statusCode, 200);
  t.deepEqual(res.json<{ records: unknown[] }>().records, [
    '12345678901234567890',
    { $base64: 'aGk=' },
    { bytes: { $base64: 'AQID' }, nested: [null, '1'] },
    [null],
  ]);
});

test('rest - toJsonSafe encodes a byte view by its own window of the underlying buffer', (t) => {
  const whole = new Uint8Array([9, 1, 2, 9]);
  t.is(JSON.stringify({ v: whole.subarray(1, 3) }, toJsonSafe), '{"v":{"$base64":"AQI="}}');
  t.is(JSON.stringify([1n, undefined], toJsonSafe), '["1",null]');
});

test('rest - DELETE /cluster answers 202 {} and only then shuts the gateway down', async (t) => {
  const { app, gateway } = setup();
  const res = await app.inject({ method: 'DELETE', url: '/cluster' });
  t.is(res.statusCode, 202);
  t.deepEqual(res.json(), {});
  await gateway.shutdownRequested;
  t.is(gateway.shutdowns, 1);
});

// ---- refused requests ----

test('rest - a job graph with an edge to a missing vertex is refused with every problem listed', async (t) => {
  const { app, gateway } = setup();
  const g = mutable();
  g.edges[0].target = 'nowhere';
  g.vertices[1].parallelism = 500;
  g.vertices[2].operators[1].kind = 'teleport';
  g.network.floatingCredits = -1;
  g.jobId = 'ABCDEF';
  const res = await submit(app, g, { bundle: '', entry: 'job.ts', args: ['ok', 7], parallelism: 0, extra: true });
  t.is(res.statusCode, 400);
  const { code, error } = errorOf(res);
  t.is(code, 'TROUPE_INVALID_REQUEST');
  for (const problem of [
    '"jobGraph.jobId" must be 32 lowercase hex digits',
    '"jobGraph.network.floatingCredits" must be greater than or equal to 0',
    '"jobGraph.vertices[1].parallelism" 500 exceeds the vertex maxParallelism',
    '"jobGraph.vertices[2].operators[1].kind" must be one of [source, map, filter, flat-map, process, keyed-process, reduce, sink]',
    '"jobGraph.edges[0].target" must name a vertex of the graph',
    '"artifact.bundle" is not allowed to be empty',
    '"artifact.args[1]" must be a string',
    '"artifact.parallelism" must be greater than or equal to 1',
    '"artifact.extra" is not allowed',
  ]) {
    t.true(error.includes(problem), `missing: ${problem}\nin: ${error}`);
  }
  t.is(gateway.jobs.size, 0);
});

test('rest - a job graph whose edges break the topology, the chain or the writers is refused with each problem listed', async (t) => {
  const { app } = setup();
  const g = mutable();
  g.edges[0].partitioner = 'forward'; // parallelism 1 → 2
  g.edges[1].keyedBy = 'nobody';
  g.vertices.push({ ...g.vertices[0], id: 'late-source', operators: [{ ...g.vertices[0].operators[0], id: 'late-source', outEdges: ['e2'] }] });
  g.edges.push({ id: 'e2', source: 'late-source', sourceOperator: 'late-source', target: 'map-1', partitioner: 'rebalance' });
  g.vertices[2].operators[0].chainedOutputs = [0];
  g.vertices[2].operators[1].id = 'map-1';
  const res = await submit(app, g);
  t.is(res.statusCode, 400);
  const { error } = errorOf(res);
  for (const problem of [
    '"jobGraph.edges[0]" is a forward edge between parallelisms 1 and 2; they must be equal',
    '"jobGraph.edges[1].keyedBy" must name an operator of the graph',
    '"jobGraph.edges[2]" goes from late-source to map-1, which is not later in the topological order of vertices',
    '"jobGraph.vertices[2].operators[0]" chains to index 0, which is not a later member of its chain of 2',
    '"jobGraph.vertices[1].operators[0].id" map-1 is not unique',
    '"jobGraph.vertices[2].operators[1].id" map-1 is not unique',
  ]) {
    t.true(error.includes(problem), `missing: ${problem}\nin: ${error}`);
  }
});

test('rest - a submission without a body, or with neither graph nor artifact, is refused with each missing part named', async (t) => {
  const { app } = setup();
  const empty = await app.inject({ method: 'POST', url: '/jobs', payload: {} });
  t.is(empty.statusCode, 400);
  t.is(errorOf(empty).error, 'invalid request body: "jobGraph" is required; "artifact" is required');
  const none = await app.inject({ method: 'POST', url: '/jobs' });
  t.is(none.statusCode, 400);
  t.is(errorOf(none).code, 'TROUPE_INVALID_REQUEST');
});

test('rest - a body that is not JSON is refused with 400 and a coded error', async (t) => {
  const { app } = setup();
  const res = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/json' }, payload: '{"jobGraph":' });
  t.is(res.statusCode, 400);
  t.is(errorOf(res).code, 'TROUPE_INVALID_REQUEST');
});

test('rest - a job id that is not 32 lowercase hex digits is refused with 400 on every job route', async (t) => {
  const { app } = setup();
  const bad = ['ABCDEF0123456789ABCDEF0123456789', 'abc', `${'a'.repeat(32)}0`];
  for (const id of bad) {
    for (const [method, url] of [
      ['GET', `/jobs/${id}`],
      ['GET', `/jobs/${id}/execution-result`],
      ['GET', `/jobs/${id}/collected?from=0`],
      ['PATCH', `/jobs/${id}?mode=cancel`],
    ] as const) {
      const res = await app.inject({ method, url });
      t.is(res.statusCode, 400, `${method} ${url}`);
      t.deepEqual(errorOf(res), { code: 'TROUPE_INVALID_REQUEST', error: 'invalid request path: "jobId" must be 32 lowercase hex digits' });
    }
  }
});

test('rest - a collected index that is negative or not an integer is refused', async (t) => {
  const { app } = setup();
  const jobId = await submitted(app);
  for (const from of ['-1', 'abc', '1.5']) {
    const res = await app.inject({ method: 'GET', url: `/jobs/${jobId}/collected?from=${from}` });
    t.is(res.statusCode, 400, from);
    t.is(errorOf(res).code, 'TROUPE_INVALID_REQUEST');
  }
});

test('rest - an unknown query parameter is refused', async (t) => {
  const { app } = setup();
  const res = await app.inject({ method: 'GET', url: '/jobs?limit=3' });
  t.is(res.statusCode, 400);
  t.deepEqual(errorOf(res), { code: 'TROUPE_INVALID_REQUEST', error: 'invalid request query: "limit" is not allowed' });
});

test('rest - an unknown route is 404 with a coded error', async (t) => {
  const { app } = setup();
  const res = await app.inject({ method: 'GET', url: '/taskmanagers?x=1' });
  t.is(res.statusCode, 404);
  t.deepEqual(errorOf(res), { code: 'TROUPE_ROUTE_NOT_FOUND', error: 'no route GET /taskmanagers' });
});

test('rest - a body over the limit is refused with 413 and a coded error', async (t) => {
  const { app, gateway } = setup({ bodyLimitBytes: 4096 });
  const res = await submit(app, sampleJobGraph(), sampleArtifact({ bundle: 'x'.repeat(8192) }));
  t.is(res.statusCode, 413);
  t.is(errorOf(res).code, 'TROUPE_REQUEST_TOO_LARGE');
  t.is(gateway.jobs.size, 0);
});

// ---- gateway failures ----

test('rest - a TroupeError from the gateway keeps its code and the catalog status', async (t) => {
  const { app, gateway } = setup();
  const missing = await app.inject({ method: 'GET', url: `/jobs/${testJobId()}` });
  t.is(missing.statusCode, 404);
  t.is(errorOf(missing).code, 'TROUPE_JOB_NOT_FOUND');
  gateway.failNext('submitJob', new TroupeError('TROUPE_NOT_ENOUGH_SLOTS', 'need 5 slots, 3 free'));
  const full = await submit(app);
  t.is(full.statusCode, 503);
  t.deepEqual(errorOf(full), { code: 'TROUPE_NOT_ENOUGH_SLOTS', error: 'need 5 slots, 3 free' });
});

test('rest - an error record thrown by the gateway keeps its code', async (t) => {
  const { app, gateway } = setup();
  gateway.failNext('overview', { code: 'TROUPE_REQUEST_TIMEOUT', message: 'resource manager did not answer' });
  const res = await app.inject({ method: 'GET', url: '/overview' });
  t.is(res.statusCode, 504);
  t.deepEqual(errorOf(res), { code: 'TROUPE_REQUEST_TIMEOUT', error: 'resource manager did not answer' });
});

test('rest - an unexpected gateway error is 500 TROUPE_INTERNAL_ERROR without a stack', async (t) => {
  const { app, gateway } = setup();
  gateway.failNext('listJobs', new RangeError('dispatcher exploded'));
  const res = await app.inject({ method: 'GET', url: '/jobs' });
  t.is(res.statusCode, 500);
  t.deepEqual(res.json(), { code: 'TROUPE_INTERNAL_ERROR', error: 'dispatcher exploded' });
  t.false(res.body.includes('at '));
});

test('rest - a failing shutdown after DELETE /cluster does not change the 202 already sent', async (t) => {
  const { app, gateway } = setup();
  gateway.failNext('shutdown', new Error('already stopping'));
  const res = await app.inject({ method: 'DELETE', url: '/cluster' });
  t.is(res.statusCode, 202);
  const again = await app.inject({ method: 'DELETE', url: '/cluster' });
  t.is(again.statusCode, 202);
  await gateway.shutdownRequested;
  t.is(gateway.shutdowns, 1);
});
