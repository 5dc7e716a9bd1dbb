/** FileSource (api/datastream/sources/file-source.ts): lines, positions, restore and rescale, bad input. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { FileSource } from '../../api/datastream/sources/file-source.js';
import type { SourceReader } from '../../api/datastream/source.js';
import { TroupeError } from '../../core/errors.js';

function dir(t: ExecutionContext): string {
  const d = mkdtempSync(path.join(tmpdir(), 'troupe-file-source-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Polls until the end, or until `limit` records were read. */
function read<T>(reader: SourceReader<T>, limit = Infinity, batch = 7): T[] {
  const out: T[] = [];
  const collector = { collect: (v: T) => out.push(v) };
  while (out.length < limit) {
    const r = reader.pollNext(collector, Math.min(batch, limit - out.length));
    if (r === 'end') break;
  }
  return out;
}

test('file source - every line once, CRLF and a last line without newline, multi-byte characters across read chunks', (t) => {
  const d = dir(t);
  const long = 'x'.repeat(65_534) + 'é€'; // the multi-byte characters straddle the 64 KiB chunk boundary
  writeFileSync(path.join(d, 'a.txt'), `one\r\ntwo\n${long}\nlast`);
  const lines = read(FileSource.forLines(path.join(d, 'a.txt')).createReader({ subtaskIndex: 0, parallelism: 1 }));
  t.deepEqual(lines, ['one', 'two', long, 'last']);
});

test('file source - a directory is split among subtasks by file; hidden files are skipped', (t) => {
  const d = dir(t);
  for (let i = 0; i < 5; i++) writeFileSync(path.join(d, `f${i}.txt`), `${i}a\n${i}b\n`);
  writeFileSync(path.join(d, '.hidden'), 'no\n');
  const source = FileSource.forLines(d);
  const all = [0, 1].flatMap((i) => read(source.createReader({ subtaskIndex: i, parallelism: 2 })));
  t.deepEqual(all.sort(), ['0a', '0b', '1a', '1b', '2a', '2b', '3a', '3b', '4a', '4b']);
});

test('file source - a reader restored from a snapshot continues at exactly the next line, also at another parallelism', (t) => {
  const d = dir(t);
  const expected: string[] = [];
  for (let i = 0; i < 4; i++) {
    const lines = Array.from({ length: 50 }, (_, j) => `${i}-${j}`);
    expected.push(...lines);
    writeFileSync(path.join(d, `f${i}.txt`), lines.join('\n') + '\n');
  }
  const lineSource = FileSource.forLines(d);
  const readers = [0, 1].map((i) => lineSource.createReader({ subtaskIndex: i, parallelism: 2 }));
  const before = readers.flatMap((r, i) => read(r, 30 + i * 40));
  const states = readers.map((r) => r.snapshotState!(1));
  // three new readers share the old positions round-robin
  const pooled = states.flat();
  const after = [0, 1, 2].flatMap((i) => read(lineSource.createReader({ subtaskIndex: i, parallelism: 3, restoredState: pooled.filter((_, j) => j % 3 === i) })));
  t.deepEqual([...before, ...after].sort(), [...expected].sort());
  t.is(before.length + after.length, expected.length);
});

test('file source - bad input: a missing file, an unparsable JSON line, a restored offset past the end are coded errors naming the file', (t) => {
  const d = dir(t);
  const missing = path.join(d, 'nope.txt');
  const notFound = t.throws(() => FileSource.forLines(missing).createReader({ subtaskIndex: 0, parallelism: 1 }), { instanceOf: TroupeError });
  t.is(notFound.code, 'TROUPE_INVALID_ARGUMENT');
  t.regex(notFound.message, /nope\.txt/);
  const file = path.join(d, 'j.jsonl');
  writeFileSync(file, '{"a":1}\n{oops\n');
  const reader = FileSource.forJsonLines(file).createReader({ subtaskIndex: 0, parallelism: 1 });
  const error = t.throws(() => read(reader), { instanceOf: TroupeError });
  t.is(error.code, 'TROUPE_INVALID_ARGUMENT');
  t.regex(error.message, /j\.jsonl at byte 8/);
  const past = FileSource.forLines(file).createReader({ subtaskIndex: 0, parallelism: 1, restoredState: [{ path: file, offset: 10_000 }] });
  t.like(t.throws(() => read(past)), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  t.like(t.throws(() => FileSource.forLines(file).createReader({ subtaskIndex: 0, parallelism: 1, restoredState: [{ path: 'relative', offset: 0 }] })), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  mkdirSync(path.join(d, 'empty'));
  t.deepEqual(read(FileSource.forLines(path.join(d, 'empty')).createReader({ subtaskIndex: 0, parallelism: 1 })), []);
});
