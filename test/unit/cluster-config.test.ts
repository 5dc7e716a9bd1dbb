/**
 * Cluster descriptions (cluster-config/cluster-config.ts): the shipped JSON files parse, defaults
 * apply, every problem is reported at once with its JSON path, unknown keys are rejected, file
 * failures are coded errors naming the file, the secret never leaks into an error, the file's
 * secret wins over TROUPE_SECRET, and which addresses count as loopback.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DEFAULT_CLUSTER_CONFIG,
  isLoopback,
  loadClusterConfig,
  parseClusterConfig,
  type ClusterConfigProblem,
} from '../../cluster-config/cluster-config.js';
import { TroupeError } from '../../core/errors.js';

/** Tests run from dist/test/unit, three levels below the root; the JSON files live in the source tree. */
const shipped = (name: string): string => path.resolve(__dirname, '../../../cluster-config', name);

const SECRET = 'correct-horse-battery-staple-42';
const OTHER_SECRET = 'another-long-enough-secret-99';

/** Runs `fn`, asserts it throws TROUPE_INVALID_CLUSTER_CONFIG, returns the error. */
function invalid(t: ExecutionContext, fn: () => unknown): TroupeError {
  const error = t.throws(fn, { instanceOf: TroupeError });
  if (error === undefined) throw new Error('expected a TroupeError');
  t.is(error.code, 'TROUPE_INVALID_CLUSTER_CONFIG');
  return error;
}

function problemsOf(error: TroupeError): ClusterConfigProblem[] {
  return error.details?.problems as ClusterConfigProblem[];
}

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'troupe-cluster-config-test-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- shipped files ----

test('cluster config - local.json parses as embedded with one 4-slot TaskExecutor', (t) => {
  const config = loadClusterConfig(shipped('local.json'), {});
  t.is(config.mode, 'embedded');
  t.deepEqual(config.taskExecutors, [{ count: 1, slots: 4 }]);
  t.is(config.secret, undefined);
});

test('cluster config - forked.json parses as two 2-slot forked TaskExecutors with heartbeat 500/3000', (t) => {
  const config = loadClusterConfig(shipped('forked.json'), {});
  t.is(config.mode, 'forked');
  t.deepEqual(config.taskExecutors, [{ count: 2, slots: 2 }]);
  t.deepEqual(config.heartbeat, { intervalMs: 500, timeoutMs: 3000 });
});

test('cluster config - loopback-cluster.json parses with TROUPE_SECRET from the passed env', (t) => {
  const config = loadClusterConfig(shipped('loopback-cluster.json'), { TROUPE_SECRET: SECRET });
  t.is(config.mode, 'remote');
  t.is(config.jobmanager.address, '127.0.0.1');
  t.deepEqual(config.taskExecutors, [
    { count: 1, slots: 2, host: '127.0.0.2', agentPort: 6161 },
    { count: 1, slots: 2, host: '127.0.0.3', agentPort: 6161 },
    { count: 1, slots: 2, host: '127.0.0.4', agentPort: 6161 },
  ]);
  t.is(config.secret, SECRET);
  t.is(config.secretSource, 'env');
});

test('cluster config - loopback-cluster.json without TROUPE_SECRET fails listing the missing secret', (t) => {
  const error = invalid(t, () => loadClusterConfig(shipped('loopback-cluster.json'), {}));
  t.deepEqual(
    problemsOf(error).map((p) => p.path),
    ['secret'],
  );
  t.regex(error.message, /^ {2}secret: is required because mode is "remote".*TROUPE_SECRET/m);
  t.true(error.message.includes(shipped('loopback-cluster.json')));
});

// ---- defaults ----

test('cluster config - a minimal description gets every default', (t) => {
  const config = parseClusterConfig({ mode: 'forked', taskExecutors: [{ slots: 3 }] }, {});
  t.deepEqual(config, {
    name: undefined,
    mode: 'forked',
    jobmanager: { address: '127.0.0.1', rpcPort: 6123, restPort: 8081, restBind: '127.0.0.1' },
    secret: undefined,
    secretSource: undefined,
    taskExecutors: [{ count: 1, slots: 3 }],
    network: {
      bufferBytes: 32768,
      exclusiveCredits: 2,
      floatingCredits: 8,
      bufferTimeoutMs: 100,
      maxRecordBytes: 16 * 1024 * 1024,
      maxFrameBytes: 64 * 1024 * 1024,
    },
    heartbeat: { intervalMs: 1000, timeoutMs: 5000 },
    workDir: path.join(tmpdir(), 'troupe-cluster'),
  });
});

test('cluster config - restBind defaults to the jobmanager address and workDir to the name', (t) => {
  const config = parseClusterConfig(
    { name: 'prod', mode: 'forked', jobmanager: { address: 'localhost' }, taskExecutors: [{ slots: 1 }] },
    {},
  );
  t.is(config.jobmanager.restBind, 'localhost');
  t.is(config.workDir, path.join(tmpdir(), 'troupe-prod'));
});

test('cluster config - remote TaskExecutor entries default agentPort to 6161', (t) => {
  const config = parseClusterConfig(
    { mode: 'remote', secret: SECRET, taskExecutors: [{ slots: 1, host: '127.0.0.2' }] },
    {},
  );
  t.is(config.taskExecutors[0]?.agentPort, 6161);
});

test('cluster config - DEFAULT_CLUSTER_CONFIG equals local.json except for the name and workDir', (t) => {
  const local = loadClusterConfig(shipped('local.json'), {});
  t.deepEqual({ ...DEFAULT_CLUSTER_CONFIG, name: local.name, workDir: local.workDir }, local);
  t.true(Object.isFrozen(DEFAULT_CLUSTER_CONFIG.jobmanager));
});

test('cluster config - parsing does not mutate its input', (t) => {
  const input = { mode: 'forked', taskExecutors: [{ slots: 1 }] };
  parseClusterConfig(input, {});
  t.deepEqual(input, { mode: 'forked', taskExecutors: [{ slots: 1 }] });
});

// ---- every problem at once ----

test('cluster config - five distinct problems are all reported with their paths in one error', (t) => {
  const error = invalid(t, () =>
    parseClusterConfig(
      {
        mode: 'forked',
        taskExecutors: [{ slots: 2 }, { slots: 0 }, { slots: 1, host: '10.0.0.7' }],
        network: { bufferBytes: 512 },
        heartbeat: { intervalMs: 2000, timeoutMs: 1000 },
        jobmanager: { rpcPort: 70000 },
      },
      {},
      'five.json',
    ),
  );
  const expected = [
    'taskExecutors[1].slots: must be an integer >= 1',
    'taskExecutors[2].host: is only allowed in remote mode',
    'network.bufferBytes: must be an integer between 1024 (1 KiB) and 16777216 (16 MiB)',
    'jobmanager.rpcPort: must be a port number, an integer between 0 and 65535 (0 = any free port)',
    'heartbeat.timeoutMs: must be greater than heartbeat.intervalMs (2000)',
  ];
  const lines = error.message.split('\n').slice(1).map((l) => l.trim());
  t.deepEqual([...lines].sort(), [...expected].sort());
  t.deepEqual(problemsOf(error).map((p) => `${p.path}: ${p.message}`).sort(), [...expected].sort());
  t.regex(error.message, /^Invalid cluster configuration five\.json \(5 problems\):\n/);
});

test('cluster config - maxFrameBytes below maxRecordBytes + bufferBytes + 1024 is a problem', (t) => {
  const error = invalid(t, () =>
    parseClusterConfig(
      { mode: 'embedded', taskExecutors: [{ slots: 1 }], network: { bufferBytes: 1024, maxRecordBytes: 4096, maxFrameBytes: 6143 } },
      {},
    ),
  );
  t.deepEqual(problemsOf(error), [
    { path: 'network.maxFrameBytes', message: 'must be >= network.maxRecordBytes + network.bufferBytes + 1024 (= 6144), is 6143' },
  ]);
});

test('cluster config - equal non-zero rpcPort and restPort are a problem', (t) => {
  const error = invalid(t, () =>
    parseClusterConfig({ mode: 'embedded', jobmanager: { rpcPort: 9000, restPort: 9000 }, taskExecutors: [{ slots: 1 }] }, {}),
  );
  t.deepEqual(problemsOf(error), [{ path: 'jobmanager.restPort', message: 'must differ from jobmanager.rpcPort (9000)' }]);
});

test('cluster config - rpcPort and restPort may both be 0 (any free port)', (t) => {
  const config = parseClusterConfig({ mode: 'embedded', jobmanager: { rpcPort: 0, restPort: 0 }, taskExecutors: [{ slots: 1 }] }, {});
  t.deepEqual([config.jobmanager.rpcPort, config.jobmanager.restPort], [0, 0]);
});

test('cluster config - a relative workDir resolves against the working directory', (t) => {
  const config = parseClusterConfig({ mode: 'embedded', workDir: 'tmp/troupe', taskExecutors: [{ slots: 1 }] }, {});
  t.is(config.workDir, path.resolve('tmp/troupe'));
});

test('cluster config - remote mode without a host on an entry is a problem at that entry', (t) => {
  const error = invalid(t, () =>
    parseClusterConfig({ mode: 'remote', secret: SECRET, taskExecutors: [{ slots: 1, host: '127.0.0.2' }, { slots: 1 }] }, {}),
  );
  t.deepEqual(
    problemsOf(error).map((p) => p.path),
    ['taskExecutors[1].host'],
  );
});

test('cluster config - a heartbeat interval above the default timeout says the default applies', (t) => {
  const error = invalid(t, () => parseClusterConfig({ mode: 'embedded', taskExecutors: [{ slots: 1 }], heartbeat: { intervalMs: 6000 } }, {}));
  t.regex(error.message, /heartbeat\.timeoutMs: must be greater than heartbeat\.intervalMs \(6000\) \(the default 5000 applies/);
});

test('cluster config - a non-object document is one problem at the root', (t) => {
  for (const json of [undefined, null, [], 'embedded', 42]) {
    const error = invalid(t, () => parseClusterConfig(json, {}));
    t.deepEqual(problemsOf(error), [{ path: '(root)', message: 'must be a JSON object' }]);
  }
});

// ---- unknown keys ----

test('cluster config - an unknown key is rejected with a suggestion', (t) => {
  const error = invalid(t, () =>
    parseClusterConfig({ mode: 'embedded', taskExecutors: [{ slots: 1, slot: 2 }], hearbeat: {} }, {}),
  );
  t.deepEqual(problemsOf(error), [
    { path: 'taskExecutors[0].slot', message: 'is not a known field (did you mean "slots"?)' },
    { path: 'hearbeat', message: 'is not a known field (did you mean "heartbeat"?)' },
  ]);
});

test('cluster config - an unknown key unlike any field is rejected without a suggestion', (t) => {
  const error = invalid(t, () => parseClusterConfig({ mode: 'embedded', taskExecutors: [{ slots: 1 }], parallelism: 4 }, {}));
  t.deepEqual(problemsOf(error), [{ path: 'parallelism', message: 'is not a known field' }]);
});

// ---- files ----

test('cluster config - a file that is not JSON gives the coded error naming the file and the line', (t) => {
  withTempDir((dir) => {
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, '{\n  "mode": "embedded",\n}\n');
    const error = invalid(t, () => loadClusterConfig(file, {}));
    t.true(error.message.includes(file));
    t.regex(error.message, /is not valid JSON: .*line 3, column 1/);
    t.is(error.details?.file, file);
  });
});

test('cluster config - a missing file gives the coded error naming the file', (t) => {
  withTempDir((dir) => {
    const file = path.join(dir, 'nope.json');
    const error = invalid(t, () => loadClusterConfig(file, {}));
    t.is(error.message, `Cluster configuration file ${file} does not exist`);
    t.is(error.details?.file, file);
  });
});

test('cluster config - an empty file gives the coded error naming the file', (t) => {
  withTempDir((dir) => {
    const file = path.join(dir, 'empty.json');
    writeFileSync(file, '  \n');
    const error = invalid(t, () => loadClusterConfig(file, {}));
    t.true(error.message.includes(file));
  });
});

test('cluster config - an invalid file names the file in its message and details', (t) => {
  withTempDir((dir) => {
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ mode: 'cloud', taskExecutors: [{ slots: 1 }] }));
    const error = invalid(t, () => loadClusterConfig(file, {}));
    t.true(error.message.startsWith(`Invalid cluster configuration ${file} (1 problem):`));
    t.is(error.details?.source, file);
    t.deepEqual(problemsOf(error), [{ path: 'mode', message: 'must be one of "embedded", "forked", "threaded", "remote"' }]);
  });
});

// ---- the secret ----

function assertNoSecret(t: ExecutionContext, error: TroupeError, secret: string): void {
  t.false(error.message.includes(secret), 'secret in the message');
  t.false(JSON.stringify(error.toRecord()).includes(secret), 'secret in the error record');
}

test('cluster config - the secret never appears in the text of a validation error', (t) => {
  const error = invalid(t, () =>
    parseClusterConfig(
      { mode: 'remote', secret: SECRET, taskExecutors: [{ slots: 0, host: 'bad host' }], heartbeat: { timeoutMs: 10 } },
      { TROUPE_SECRET: OTHER_SECRET },
    ),
  );
  t.true(problemsOf(error).length >= 3);
  assertNoSecret(t, error, SECRET);
  assertNoSecret(t, error, OTHER_SECRET);
});

test('cluster config - a too-short secret is rejected without quoting it', (t) => {
  const short = 'hunter2-short';
  const error = invalid(t, () => parseClusterConfig({ mode: 'embedded', secret: short, taskExecutors: [{ slots: 1 }] }, {}));
  t.deepEqual(problemsOf(error), [{ path: 'secret', message: 'must be a string of at least 16 characters' }]);
  assertNoSecret(t, error, short);
});

test('cluster config - a too-short TROUPE_SECRET is rejected without quoting it', (t) => {
  const short = 'hunter2-envvar';
  const error = invalid(t, () => parseClusterConfig({ mode: 'remote', taskExecutors: [{ slots: 1, host: '127.0.0.2' }] }, { TROUPE_SECRET: short }));
  t.deepEqual(
    problemsOf(error).map((p) => p.path),
    ['env.TROUPE_SECRET'],
  );
  assertNoSecret(t, error, short);
});

test('cluster config - the secret never appears in a not-JSON error', (t) => {
  withTempDir((dir) => {
    const file = path.join(dir, 'leaky.json');
    writeFileSync(file, `{ "secret": ${SECRET}, "mode": "embedded" }`);
    const error = invalid(t, () => loadClusterConfig(file, {}));
    // V8's JSON.parse message quotes the text around the error: not even a piece may show.
    assertNoSecret(t, error, SECRET.slice(0, 6));
  });
});

test('cluster config - the file secret wins over TROUPE_SECRET', (t) => {
  const config = parseClusterConfig(
    { mode: 'remote', secret: SECRET, taskExecutors: [{ slots: 1, host: '127.0.0.2' }] },
    { TROUPE_SECRET: OTHER_SECRET },
  );
  t.is(config.secret, SECRET);
  t.is(config.secretSource, 'file');
});

test('cluster config - TROUPE_SECRET is used when the file has no secret', (t) => {
  const config = parseClusterConfig({ mode: 'embedded', taskExecutors: [{ slots: 1 }] }, { TROUPE_SECRET: OTHER_SECRET });
  t.is(config.secret, OTHER_SECRET);
  t.is(config.secretSource, 'env');
});

test('cluster config - an empty TROUPE_SECRET counts as unset', (t) => {
  const config = parseClusterConfig({ mode: 'embedded', taskExecutors: [{ slots: 1 }] }, { TROUPE_SECRET: '' });
  t.is(config.secret, undefined);
});

test('cluster config - a non-loopback jobmanager address without a secret is a problem naming the address', (t) => {
  const error = invalid(t, () =>
    parseClusterConfig({ mode: 'forked', jobmanager: { address: '0.0.0.0' }, taskExecutors: [{ slots: 1 }] }, {}),
  );
  t.deepEqual(
    problemsOf(error).map((p) => p.path),
    ['secret'],
  );
  t.regex(error.message, /jobmanager\.address "0\.0\.0\.0" is not loopback: set "secret".*TROUPE_SECRET/);
});

test('cluster config - a non-loopback remote host without a secret is a problem naming the host', (t) => {
  const error = invalid(t, () =>
    parseClusterConfig({ mode: 'remote', taskExecutors: [{ slots: 1, host: '127.0.0.2' }, { slots: 1, host: 'worker-1.example.com' }] }, {}),
  );
  t.regex(error.message, /taskExecutors\[1\]\.host "worker-1\.example\.com" is not loopback/);
  t.notRegex(error.message, /taskExecutors\[0\]\.host/);
});

test('cluster config - a non-loopback jobmanager address with TROUPE_SECRET is valid', (t) => {
  const config = parseClusterConfig(
    { mode: 'forked', jobmanager: { address: '10.1.2.3' }, taskExecutors: [{ slots: 1 }] },
    { TROUPE_SECRET: OTHER_SECRET },
  );
  t.is(config.jobmanager.address, '10.1.2.3');
});

// ---- isLoopback ----

test('cluster config - isLoopback accepts 127.0.0.0/8, ::1 in any spelling and localhost', (t) => {
  const loopback = ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'];
  for (const a of [...loopback, 'localhost', 'LOCALHOST']) t.true(isLoopback(a), a);
});

test('cluster config - isLoopback rejects other, wildcard and malformed addresses', (t) => {
  const wildcard = ['0.0.0.0', '::'];
  const other = ['10.0.0.1', '128.0.0.1', '192.168.1.127', '::2', '::ffff:10.0.0.1', 'example.com', 'localhost.example.com'];
  const malformed = ['127.0.0.256', '127.1', '', 'fe80::1%lo0'];
  for (const a of [...wildcard, ...other, ...malformed]) t.false(isLoopback(a), a);
});
