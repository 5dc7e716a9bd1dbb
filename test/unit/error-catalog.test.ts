/**
 * The error catalog (core/errors.ts) and its documentation (README.md, "## Errors" table), and
 * the plain-record wire form of TroupeError.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CATALOG, TroupeError, causeOf, isErrorCode, toErrorRecord, type ErrorCode, type ErrorRecord } from '../../core/errors.js';

interface DocRow {
  readonly status: number;
  readonly description: string;
}

/** The README's error table by code. Tests run from dist/test/unit, three levels below the root. */
function readmeTable(): Map<string, DocRow> {
  const readme = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Errors'));
  if (section === undefined) throw new Error('README.md has no "## Errors" section');
  const rows = new Map<string, DocRow>();
  for (const line of section.split('\n')) {
    const m = /^\|\s*(TROUPE_[A-Z_]+)\s*\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$/.exec(line);
    if (m === null) continue;
    if (rows.has(m[1]!)) throw new Error(`README lists ${m[1]} twice`);
    rows.set(m[1]!, { status: Number(m[2]), description: m[3]! });
  }
  return rows;
}

const table = readmeTable();
const codes = Object.keys(ERROR_CATALOG) as ErrorCode[];


test('error catalog - the README has an error table', (t) => {
  t.true(table.size > 0);
});

test('error catalog - every catalog code appears in the README error table', (t) => {
  const missing = codes.filter((c) => !table.has(c));
  t.deepEqual(missing, []);
});

test('error catalog - every code in the README error table exists in the catalog', (t) => {
  const unknown = [...table.keys()].filter((c) => !isErrorCode(c));
  t.deepEqual(unknown, []);
});

for (const code of codes) {
  test(`error catalog - ${code} has the same status in the README and the catalog`, (t) => {
    t.is(table.get(code)?.status, ERROR_CATALOG[code].status);
  });

  test(`error catalog - ${code} has the same description in the README and the catalog`, (t) => {
    t.is(table.get(code)?.description, ERROR_CATALOG[code].description);
  });
}

test('error catalog - every code is TROUPE_-prefixed upper snake case with a sane spec', (t) => {
  for (const code of codes) {
    const spec = ERROR_CATALOG[code];
    t.regex(code, /^TROUPE_[A-Z]+(_[A-Z]+)*$/);
    t.true(spec.status >= 400 && spec.status < 600, code);
    t.true(['user', 'external', 'internal'].includes(spec.domain), code);
    t.true(spec.description.length > 0 && spec.description.endsWith('.'), code);
  }
});

// ---- TroupeError ----

test('TroupeError - carries its code, message, name and catalog spec', (t) => {
  const e = new TroupeError('TROUPE_JOB_NOT_FOUND', 'no job 42');
  t.true(e instanceof Error);
  t.is(e.name, 'TroupeError');
  t.is(e.code, 'TROUPE_JOB_NOT_FOUND');
  t.is(e.message, 'no job 42');
  t.is(e.spec, ERROR_CATALOG.TROUPE_JOB_NOT_FOUND);
});

test('TroupeError - toRecord/fromRecord round-trips a record with every optional field', (t) => {
  const record: ErrorRecord = {
    code: 'TROUPE_USER_FUNCTION_FAILED',
    message: 'Map failed',
    operator: 'Map',
    cause: { name: 'RangeError', message: 'bad', stack: 'RangeError: bad\n    at x' },
    details: { subtask: 3, nested: { ok: true } },
  };
  const e = TroupeError.fromRecord(record);
  t.is(e.code, record.code);
  t.is(e.operator, 'Map');
  t.deepEqual(e.causeRecord, record.cause);
  t.deepEqual(e.details, record.details);
  t.deepEqual(e.toRecord(), record);
});

test('TroupeError - toRecord/fromRecord round-trips a minimal record without adding keys', (t) => {
  const record: ErrorRecord = { code: 'TROUPE_REQUEST_TIMEOUT', message: 'timed out' };
  const out = TroupeError.fromRecord(record).toRecord();
  t.deepEqual(out, record);
  t.deepEqual(Object.keys(out).sort(), ['code', 'message']);
});

test('TroupeError - a record survives JSON (the wire) and comes back equal', (t) => {
  const e = new TroupeError('TROUPE_NOT_ENOUGH_SLOTS', 'need 4', { details: { needed: 4, free: 1, total: 2 } });
  const wire = JSON.parse(JSON.stringify(e.toRecord())) as ErrorRecord;
  const back = TroupeError.fromRecord(wire);
  t.is(back.code, e.code);
  t.is(back.message, e.message);
  t.deepEqual(back.details, e.details);
  t.deepEqual(back.toRecord(), e.toRecord());
});

test('TroupeError - every catalog code round-trips through a record', (t) => {
  for (const code of codes) {
    const r = new TroupeError(code, `m ${code}`).toRecord();
    t.deepEqual(TroupeError.fromRecord(r).toRecord(), r);
  }
});

// ---- helpers ----

test('isErrorCode - accepts catalog codes only', (t) => {
  t.true(isErrorCode('TROUPE_TASK_FAILED'));
  t.false(isErrorCode('TROUPE_NOPE'));
  t.false(isErrorCode('toString'));
  t.false(isErrorCode(42));
});

test('toErrorRecord - a TroupeError keeps its code', (t) => {
  const e = new TroupeError('TROUPE_CHANNEL_SEQUENCE', 'gap', { details: { expected: 1, got: 3 } });
  t.deepEqual(toErrorRecord(e), e.toRecord());
});

test('toErrorRecord - an object with a catalog code keeps the code', (t) => {
  t.deepEqual(toErrorRecord({ code: 'TROUPE_JOB_CANCELLED', message: 'cancelled' }), { code: 'TROUPE_JOB_CANCELLED', message: 'cancelled' });
});

test('toErrorRecord - a plain Error becomes the fallback code with the error as cause', (t) => {
  const err = new TypeError('oops');
  const r = toErrorRecord(err, 'TROUPE_USER_FUNCTION_FAILED');
  t.is(r.code, 'TROUPE_USER_FUNCTION_FAILED');
  t.is(r.message, 'oops');
  t.is(r.cause?.name, 'TypeError');
  t.is(r.cause?.message, 'oops');
});

test('toErrorRecord - a thrown non-Error defaults to TROUPE_TASK_FAILED', (t) => {
  t.deepEqual(toErrorRecord('string thrown'), { code: 'TROUPE_TASK_FAILED', message: 'string thrown', cause: { name: 'string', message: 'string thrown' } });
});

test('causeOf - records name, message and stack of an Error', (t) => {
  const err = new Error('x');
  t.deepEqual(causeOf(err), { name: 'Error', message: 'x', stack: err.stack });
});
