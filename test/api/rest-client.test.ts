/**
 * RestClient against a real REST server on port 0 (api/rest/server.ts) backed by the in-memory
 * gateway: every failure arrives as a coded TroupeError.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { TroupeError } from '../../core/errors.js';
import { RestClient, normalizeAddress } from '../../api/rest/rest-client.js';
import { startRestServer, type RestServer } from '../../api/rest/server.js';
import { FakeGateway, sampleArtifact, sampleJobGraph, testJobId } from '../helpers/fake-gateway.js';

const servers: { close(): Promise<void> }[] = [];

test.after.always(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function cluster(): Promise<{ gateway: FakeGateway; server: RestServer; client: RestClient }> {
  const gateway = new FakeGateway();
  const server = await startRestServer(gateway, { host: '127.0.0.1', port: 0 });
  servers.push(server);
  return { gateway, server, client: new RestClient(server.url) };
}

/** A plain HTTP server answering every request with `handler`. */
async function rawServer(handler: Parameters<typeof createServer>[1]): Promise<{ address: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function coded(t: import('ava').ExecutionContext, promise: Promise<unknown>): Promise<TroupeError> {
  const error = await t.throwsAsync(promise, { instanceOf: TroupeError });
  if (error === undefined) throw new Error('expected a TroupeError');
  return error;
}

test('rest client - the server reports its url with the port it bound', async (t) => {
  const { server } = await cluster();
  t.true(server.port > 0);
  t.is(server.url, `http://127.0.0.1:${server.port}`);
});

test('rest client - a submitted job is listed, reported and its result awaited once the cluster finishes it', async (t) => {
  const { gateway, client } = await cluster();
  const graph = sampleJobGraph();
  const { jobId } = await client.submitJob(graph, sampleArtifact());
  t.is(jobId, graph.jobId);
  t.deepEqual(await client.listJobs(), [{ id: jobId, name: 'word count', status: 'running' }]);
  t.like(await client.jobStatus(jobId), { jobId, status: 'running' });
  t.is(await client.jobResult(jobId), null);
  t.like(await client.overview(), { taskExecutors: 2, jobsRunning: 1 });
  gateway.emit(jobId, ['to', 2]);
  setTimeout(() => gateway.finish(jobId), 60);
  const result = await client.waitForResult(jobId, { timeoutMs: 10_000 });
  t.is(result.status, 'finished');
  t.deepEqual(result.collected, { 'sink-4': [['to', 2]] });
});

test('rest client - collect yields every record the cluster releases over time, in order, then ends', async (t) => {
  const { gateway, client } = await cluster();
  gateway.sliceSize = 3;
  const { jobId } = await client.submitJob(sampleJobGraph(), sampleArtifact());
  const expected = Array.from({ length: 40 }, (_, i) => ({ n: i, big: BigInt(i) * 10n ** 20n }));
  const release = (async () => {
    for (let i = 0; i < expected.length; i += 7) {
      await sleep(15);
      gateway.emit(jobId, ...expected.slice(i, i + 7));
    }
    await sleep(15);
    gateway.finish(jobId);
  })();
  const seen: unknown[] = [];
  for await (const record of client.collect(jobId, { pollMs: 20 })) seen.push(record);
  await release;
  t.deepEqual(
    seen,
    expected.map((r) => ({ n: r.n, big: r.big.toString() })),
  );
});

test('rest client - collect of a job that finished without records ends at once', async (t) => {
  const { gateway, client } = await cluster();
  const { jobId } = await client.submitJob(sampleJobGraph(), sampleArtifact());
  gateway.finish(jobId);
  const seen: unknown[] = [];
  for await (const record of client.collect(jobId)) seen.push(record);
  t.deepEqual(seen, []);
});

test('rest client - cancelJob cancels the job on the cluster', async (t) => {
  const { gateway, client } = await cluster();
  const { jobId } = await client.submitJob(sampleJobGraph(), sampleArtifact());
  await client.cancelJob(jobId);
  t.is(gateway.jobs.get(jobId)?.status, 'cancelled');
  t.is((await client.waitForResult(jobId)).status, 'cancelled');
});

test('rest client - shutdown is acknowledged and reaches the gateway', async (t) => {
  const { gateway, client } = await cluster();
  await client.shutdown();
  await gateway.shutdownRequested;
  t.is(gateway.shutdowns, 1);
});

test('rest client - an unknown job is a TROUPE_JOB_NOT_FOUND TroupeError', async (t) => {
  const { client } = await cluster();
  const error = await coded(t, client.jobStatus(testJobId()));
  t.is(error.code, 'TROUPE_JOB_NOT_FOUND');
});

test('rest client - a refused submission is a TROUPE_INVALID_REQUEST TroupeError listing the problems', async (t) => {
  const { client, gateway } = await cluster();
  const graph = { ...sampleJobGraph(), maxParallelism: 0 };
  const error = await coded(t, client.submitJob(graph, sampleArtifact({ parallelism: -1 })));
  t.is(error.code, 'TROUPE_INVALID_REQUEST');
  t.regex(error.message, /"jobGraph.maxParallelism" must be greater than or equal to 1.*"artifact.parallelism" must be greater than or equal to 1/);
  t.is(gateway.jobs.size, 0);
});

test('rest client - a gateway error keeps its code across HTTP', async (t) => {
  const { client, gateway } = await cluster();
  gateway.failNext('submitJob', new TroupeError('TROUPE_NOT_ENOUGH_SLOTS', 'need 9 slots, 8 exist'));
  const error = await coded(t, client.submitJob(sampleJobGraph(), sampleArtifact()));
  t.is(error.code, 'TROUPE_NOT_ENOUGH_SLOTS');
  t.is(error.message, 'need 9 slots, 8 exist');
});

test('rest client - an error answer with a code outside the catalog becomes TROUPE_INTERNAL_ERROR', async (t) => {
  const { address } = await rawServer((_req, res) => {
    res.writeHead(418, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'I am a teapot', code: 'TEAPOT' }));
  });
  const error = await coded(t, new RestClient(address).overview());
  t.is(error.code, 'TROUPE_INTERNAL_ERROR');
  t.is(error.message, 'I am a teapot');
  t.deepEqual(error.details, { status: 418, code: 'TEAPOT' });
});

test('rest client - a port nobody listens on is TROUPE_PEER_UNREACHABLE naming the address', async (t) => {
  const { address, server } = await rawServer((_req, res) => res.end());
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const error = await coded(t, new RestClient(address).listJobs());
  t.is(error.code, 'TROUPE_PEER_UNREACHABLE');
  t.true(error.message.includes(`http://${address}`), error.message);
  t.regex(error.message, /ECONNREFUSED/);
});

test('rest client - a server that never answers is TROUPE_REQUEST_TIMEOUT after the request timeout', async (t) => {
  const { address } = await rawServer(() => undefined);
  const started = Date.now();
  const error = await coded(t, new RestClient(`http://${address}`, { requestTimeoutMs: 100 }).overview());
  t.is(error.code, 'TROUPE_REQUEST_TIMEOUT');
  t.true(Date.now() - started < 5_000);
});

test('rest client - waitForResult gives up with TROUPE_REQUEST_TIMEOUT when the job outlasts timeoutMs', async (t) => {
  const { client } = await cluster();
  const { jobId } = await client.submitJob(sampleJobGraph(), sampleArtifact());
  const error = await coded(t, client.waitForResult(jobId, { timeoutMs: 80 }));
  t.is(error.code, 'TROUPE_REQUEST_TIMEOUT');
  t.regex(error.message, new RegExp(jobId));
});

test('rest client - addresses are accepted as host:port and http(s)://host:port[/prefix]', (t) => {
  t.is(normalizeAddress('localhost:8081'), 'http://localhost:8081');
  t.is(normalizeAddress('http://127.0.0.1:8081/'), 'http://127.0.0.1:8081');
  t.is(normalizeAddress('https://cluster.example:443/troupe/'), 'https://cluster.example/troupe');
  t.is(normalizeAddress('[::1]:8081'), 'http://[::1]:8081');
});

test('rest client - an address without a port or with another scheme is TROUPE_INVALID_ARGUMENT', (t) => {
  for (const address of ['localhost', 'ftp://host:21', 'http://host:1/?x=1', '']) {
    const error = t.throws<TroupeError>(() => new RestClient(address), { instanceOf: TroupeError });
    t.is(error?.code, 'TROUPE_INVALID_ARGUMENT', address);
  }
});

test('rest client - both address forms reach the same server', async (t) => {
  const { client, server } = await cluster();
  const { jobId } = await client.submitJob(sampleJobGraph(), sampleArtifact());
  const bare = new RestClient(`127.0.0.1:${server.port}`);
  t.deepEqual((await bare.listJobs()).map((j) => j.id), [jobId]);
});
