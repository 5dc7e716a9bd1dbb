import path from 'node:path';
import test from 'ava';
import { main } from '../../api/cli/troupe.js';
import { loadJobModule } from '../../api/cli/job-module.js';
import { StreamExecutionEnvironment } from '../../index.js';

const fixture = (name: string): string => path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', name);

function capture(): { out: string[]; err: string[]; restore: () => void } {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  return { out, err, restore: () => ((console.log = log), (console.error = error)) };
}

test.serial('troupe run - a TypeScript job module runs embedded with args and prints collected records and a summary', async (t) => {
  const c = capture();
  let code: number;
  try {
    code = await main(['run', fixture('good-job.ts'), '--parallelism', '2', '--', '6']);
  } finally {
    c.restore();
  }
  t.is(code, 0);
  t.is(c.out.length, 6);
  const finals = new Map<string, number>();
  for (const line of c.out) {
    const r = JSON.parse(line) as { sensor: string; value: number };
    finals.set(r.sensor, Math.max(finals.get(r.sensor) ?? 0, r.value));
  }
  t.deepEqual(Object.fromEntries(finals), { s0: 2 + 4 + 6, s1: 1 + 3 + 5 });
  t.true(c.err.some((l) => /finished/.test(l)));
});

test.serial('troupe run - the word-count example finishes', async (t) => {
  const c = capture();
  let code: number;
  try {
    code = await main(['run', path.resolve(__dirname, '..', '..', '..', 'examples', 'word-count.ts'), '-p', '2', '--quiet']);
  } finally {
    c.restore();
  }
  t.is(code, 0);
  t.true(c.out.includes('["to",13]'));
});

test('job module - a missing file, a module without default export, a syntax error and a throwing module are coded errors', async (t) => {
  await t.throwsAsync(loadJobModule(fixture('nope.ts')), { code: 'TROUPE_INVALID_JOB_MODULE', message: /does not exist/ } as never);
  await t.throwsAsync(loadJobModule(fixture('no-default.js')), { code: 'TROUPE_INVALID_JOB_MODULE', message: /default function.*notTheJob/ } as never);
  await t.throwsAsync(loadJobModule(fixture('syntax-error.ts')), { code: 'TROUPE_INVALID_JOB_MODULE', message: /does not compile: 1:/ } as never);
  await t.throwsAsync(loadJobModule(fixture('throws-on-load.js')), { code: 'TROUPE_INVALID_JOB_MODULE', message: /module init exploded/ } as never);
});

test('job module - the loaded module shares the troupe classes of the host', async (t) => {
  const job = await loadJobModule(fixture('good-job.ts'));
  const env = StreamExecutionEnvironment.create({ parallelism: 1 });
  await job(env, ['4']);
  const { graph } = env.build('shared');
  t.deepEqual(
    graph.vertices.flatMap((v) => v.operators.map((o) => o.kind)),
    ['source', 'map', 'reduce', 'sink'],
  );
});

test.serial('troupe run - bad usage exits with 2 and an invalid module with 2', async (t) => {
  const c = capture();
  try {
    t.is(await main(['run']), 2);
    t.is(await main(['fly']), 2);
    t.is(await main(['run', fixture('no-default.js')]), 2);
    t.is(await main(['run', fixture('good-job.ts'), '-p', '0']), 2);
  } finally {
    c.restore();
  }
  t.true(c.err.some((l) => l.includes('TROUPE_INVALID_JOB_MODULE')));
  t.true(c.err.some((l) => l.includes('TROUPE_INVALID_PARALLELISM')));
});
