/**
 * FileSink.forJsonLines (api/datastream/sinks/file-sink.ts): the two-phase commit protocol on real
 * files in a temp dir, driven without the runtime (createWriter, write, snapshotState, notify...).
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileSink, readCommittedJsonLines, type FileSinkOptions } from '../../api/datastream/sinks/file-sink.js';
import type { SinkContext, SinkWriter } from '../../api/datastream/sink.js';
import type { TroupeError } from '../../core/errors.js';

const roots: string[] = [];
function tempDir(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'troupe-file-sink-'));
  roots.push(root);
  return path.join(root, 'out');
}
test.after.always(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

function context(over: Partial<SinkContext> = {}): SinkContext {
  return { subtaskIndex: 0, parallelism: 1, operatorName: 'Sink: files', attempt: 0, jobId: '0123abcd', checkpointing: true, collect: () => undefined, ...over };
}

async function opened(dir: string, over: Partial<SinkContext> = {}, options: FileSinkOptions = {}): Promise<SinkWriter<unknown>> {
  const writer = FileSink.forJsonLines(dir, options).createWriter(context(over));
  await writer.open?.();
  return writer;
}

function writeAll(writer: SinkWriter<unknown>, ...values: unknown[]): void {
  for (const v of values) writer.write(v);
}

const files = (dir: string): string[] => fs.readdirSync(dir).sort();
const hidden = (dir: string): string[] => files(dir).filter((f) => f.startsWith('.'));
const visible = (dir: string): string[] => files(dir).filter((f) => !f.startsWith('.'));
const sorted = (values: unknown[]): number[] => (values as Array<{ n: number }>).map((v) => v.n).sort((a, b) => a - b);
const recs = (...ns: number[]): Array<{ n: number }> => ns.map((n) => ({ n }));

test('file sink - nothing is visible before commit; completion makes the checkpoint files visible', async (t) => {
  const dir = tempDir();
  const w = await opened(dir);
  writeAll(w, ...recs(1, 2));
  t.deepEqual(visible(dir), []);
  const state = await w.snapshotState!(1);
  t.deepEqual(hidden(dir), ['.part-0123abcd_Sink-files-04e20c4a_0_0_0.pending']);
  writeAll(w, ...recs(3));
  t.deepEqual(await readCommittedJsonLines(dir), []);
  t.like(state[0], { v: 1, kind: 'json-lines-file', checkpointId: 1, txn: { records: 2, bytes: 16, final: 'part-0123abcd_Sink-files-04e20c4a_0_0_0.jsonl' } });
  await w.notifyCheckpointComplete!(1);
  t.deepEqual(visible(dir), ['part-0123abcd_Sink-files-04e20c4a_0_0_0.jsonl']);
  t.deepEqual(await readCommittedJsonLines(dir), recs(1, 2));
  t.is(fs.readFileSync(path.join(dir, visible(dir)[0]!), 'utf8'), '{"n":1}\n{"n":2}\n');
});

test('file sink - an aborted checkpoint keeps its file pending until a later completion', async (t) => {
  const dir = tempDir();
  const w = await opened(dir);
  writeAll(w, ...recs(1));
  await w.snapshotState!(1);
  await w.notifyCheckpointAborted!(1);
  writeAll(w, ...recs(2));
  t.is((await w.snapshotState!(2)).length, 2);
  t.deepEqual(visible(dir), []);
  await w.notifyCheckpointComplete!(2);
  t.deepEqual(await readCommittedJsonLines(dir), recs(1, 2));
  t.deepEqual(hidden(dir), []);
});

test('file sink - crash mid-transaction and restore at attempt+1: every record exactly once, orphans removed', async (t) => {
  const dir = tempDir();
  const a0 = await opened(dir);
  writeAll(a0, ...recs(1, 2));
  await a0.snapshotState!(1);
  await a0.notifyCheckpointComplete!(1);
  writeAll(a0, ...recs(3));
  const state2 = await a0.snapshotState!(2); // checkpoint 2 completes, the notification is lost
  writeAll(a0, ...recs(4));
  await a0.snapshotState!(3); // checkpoint 3 never completes
  writeAll(a0, ...Array.from({ length: 5000 }, (_x, i) => ({ n: 5 + i, pad: 'x'.repeat(20) }))); // in progress (spilled) at the crash
  t.is(hidden(dir).length, 3);
  // crash: a0 is dropped, no close

  const a1 = await opened(dir, { attempt: 1, restoredState: state2 });
  t.deepEqual(sorted(await readCommittedJsonLines(dir)), [1, 2, 3], 'open() committed the transaction of checkpoint 2');
  t.deepEqual(hidden(dir), ['.part-0123abcd_Sink-files-04e20c4a_0_0_2.pending'], 'the in-progress file was removed; the sealed one waits (6b)');
  writeAll(a1, ...recs(4)); // replayed from checkpoint 2
  await a1.snapshotState!(3);
  writeAll(a1, ...recs(5, 6));
  await a1.notifyCheckpointComplete!(3);
  t.deepEqual(hidden(dir), [], 'the orphan of checkpoint 3 of attempt 0 is gone');
  await a1.flush!();
  await a1.close!();
  t.deepEqual(sorted(await readCommittedJsonLines(dir)), [1, 2, 3, 4, 5, 6]);
});

test('file sink - commit is idempotent: recovering one state twice, and after a crash between link and unlink', async (t) => {
  const dir = tempDir();
  const a0 = await opened(dir);
  writeAll(a0, ...recs(1));
  const state1 = await a0.snapshotState!(1);
  writeAll(a0, ...recs(2));
  const state2 = await a0.snapshotState!(2);
  // a crash inside the commit of checkpoint 1: linked, not yet unlinked
  const pending = hidden(dir)[0]!;
  fs.linkSync(path.join(dir, pending), path.join(dir, pending.slice(1).replace(/\.pending$/, '.jsonl')));
  await opened(dir, { attempt: 1, restoredState: state2 });
  await opened(dir, { attempt: 2, restoredState: state2 });
  await opened(dir, { attempt: 3, restoredState: state1 });
  t.deepEqual(sorted(await readCommittedJsonLines(dir)), [1, 2]);
  t.deepEqual(hidden(dir), []);
});

test('file sink - a committed file consumed by a reader is not an error on recommit', async (t) => {
  const dir = tempDir();
  const a0 = await opened(dir);
  writeAll(a0, ...recs(1));
  const state = await a0.snapshotState!(1);
  await a0.notifyCheckpointComplete!(1);
  for (const f of visible(dir)) fs.unlinkSync(path.join(dir, f));
  await t.notThrowsAsync(opened(dir, { attempt: 1, restoredState: state }));
  t.deepEqual(files(dir), []);
});

test('file sink - rescale 2 → 1: one writer commits the transactions of both old subtasks and cleans both', async (t) => {
  const dir = tempDir();
  const tiny = { bufferBytes: 1 }; // every record reaches the in-progress file at once
  const old = await Promise.all([opened(dir, { parallelism: 2 }, tiny), opened(dir, { parallelism: 2, subtaskIndex: 1 }, tiny)]);
  writeAll(old[0], ...recs(1));
  writeAll(old[1], ...recs(2));
  const states = await Promise.all(old.map((w) => w.snapshotState!(1)));
  writeAll(old[0], ...recs(3));
  writeAll(old[1], ...recs(4));
  t.is(hidden(dir).length, 4);
  const merged = await opened(dir, { attempt: 1, restoredState: states.flat() });
  t.deepEqual(sorted(await readCommittedJsonLines(dir)), [1, 2]);
  t.deepEqual(hidden(dir), [], 'in-progress files of old subtasks 0 and 1 both belong to the only new subtask');
  writeAll(merged, ...recs(3, 4));
  await merged.flush!();
  t.deepEqual(sorted(await readCommittedJsonLines(dir)), [1, 2, 3, 4]);
});

test('file sink - rescale 1 → 2: the element lands on new subtask 1, which commits it', async (t) => {
  const dir = tempDir();
  const old = await opened(dir);
  writeAll(old, ...recs(1));
  await old.snapshotState!(1);
  writeAll(old, ...recs(2));
  const state = await old.snapshotState!(2);
  t.is(state.length, 2);
  const n0 = await opened(dir, { attempt: 1, parallelism: 2, restoredState: state.slice(0, 1) });
  const n1 = await opened(dir, { attempt: 1, parallelism: 2, subtaskIndex: 1, restoredState: state.slice(1) });
  t.deepEqual(sorted(await readCommittedJsonLines(dir)), [1, 2]);
  for (const w of [n0, n1]) await w.close!();
});

test('file sink - flush at end of input commits everything; without checkpointing only flush commits', async (t) => {
  const dir = tempDir();
  const w = await opened(dir, { checkpointing: false });
  writeAll(w, ...recs(1, 2, 3));
  t.deepEqual(visible(dir), []);
  await w.flush!();
  await w.close!();
  t.deepEqual(await readCommittedJsonLines(dir), recs(1, 2, 3));
  t.deepEqual(hidden(dir), []);
});

test('file sink - empty transactions leave no file', async (t) => {
  const dir = tempDir();
  const w = await opened(dir);
  t.deepEqual(await w.snapshotState!(1), []);
  await w.notifyCheckpointComplete!(1);
  await w.flush!();
  await w.close!();
  t.deepEqual(files(dir), []);
});

test('file sink - an unstringifiable record is a coded error and committed files stay intact', async (t) => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const bad of [{ big: 10n }, cyclic, undefined, () => 1]) {
    const dir = tempDir();
    const w = await opened(dir);
    writeAll(w, ...recs(1));
    await w.snapshotState!(1);
    await w.notifyCheckpointComplete!(1);
    writeAll(w, ...recs(2));
    const error = t.throws(() => w.write(bad));
    t.is((error as TroupeError).code, 'TROUPE_RECORD_NOT_SERIALIZABLE');
    await t.throwsAsync(w.snapshotState!(2));
    await w.close!(); // the task fails and closes its operators
    t.deepEqual(await readCommittedJsonLines(dir), recs(1));
    t.deepEqual(hidden(dir), []);
  }
});

test('file sink - two sinks of one job under one name in one directory are refused, not mixed', async (t) => {
  const dir = tempDir();
  const a = await opened(dir);
  const b = await opened(dir);
  writeAll(a, ...recs(1));
  await a.snapshotState!(1);
  writeAll(b, ...recs(2));
  const error = await t.throwsAsync(b.snapshotState!(1));
  t.is((error as TroupeError).code, 'TROUPE_INVALID_ARGUMENT');
  await a.notifyCheckpointComplete!(1);
  t.deepEqual(await readCommittedJsonLines(dir), recs(1));
  const other = FileSink.forJsonLines(dir, { partPrefix: 'other' }).createWriter(context());
  await other.open?.();
  other.write({ n: 9 });
  await other.flush();
  t.deepEqual(await readCommittedJsonLines(dir, { partPrefix: 'other' }), recs(9));
});

test('file sink - a truncated pending file is refused with TROUPE_CHECKPOINT_CORRUPT', async (t) => {
  const dir = tempDir();
  const w = await opened(dir);
  writeAll(w, ...recs(1, 2));
  const state = await w.snapshotState!(1);
  fs.truncateSync(path.join(dir, hidden(dir)[0]!), 3);
  const error = await t.throwsAsync(opened(dir, { attempt: 1, restoredState: state }));
  t.is((error as TroupeError).code, 'TROUPE_CHECKPOINT_CORRUPT');
  t.deepEqual(visible(dir), []);
});

test('file sink - a restored element with a path in a file name is refused', async (t) => {
  const dir = tempDir();
  const w = await opened(dir);
  writeAll(w, ...recs(1));
  const [element] = (await w.snapshotState!(1)) as Array<{ txn: Record<string, unknown> }>;
  const tampered = { ...element, txn: { ...element!.txn, final: '../escape.jsonl' } };
  const error = await t.throwsAsync(opened(dir, { attempt: 1, restoredState: [tampered] }));
  t.is((error as TroupeError).code, 'TROUPE_CHECKPOINT_CORRUPT');
});

test('file sink - invalid options are coded errors', (t) => {
  for (const make of [() => FileSink.forJsonLines(''), () => FileSink.forJsonLines('/tmp/x', { partPrefix: 'a/b' }), () => FileSink.forJsonLines('/tmp/x', { bufferBytes: 0 })]) {
    t.is(t.throws<TroupeError>(make)?.code, 'TROUPE_INVALID_ARGUMENT');
  }
});

test('file sink - a directory that cannot be created is a coded error at open', async (t) => {
  const dir = tempDir();
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.writeFileSync(dir, 'a file, not a directory');
  const w = FileSink.forJsonLines(path.join(dir, 'sub')).createWriter(context());
  const error = await t.throwsAsync(Promise.resolve(w.open?.()));
  t.is((error as TroupeError).code, 'TROUPE_INVALID_ARGUMENT');
});
