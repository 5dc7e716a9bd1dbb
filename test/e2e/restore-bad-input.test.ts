/**
 * Restoring from bad input fails with a coded error naming the file, and nothing is restored in part:
 * a truncated or bit-flipped state file, a missing one, a savepoint of another job, a directory with
 * no savepoint. The restoring job commits no output.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { readCommittedJsonLines } from '../../api/datastream/sinks/file-sink.js';
import { TroupeError, type ErrorCode } from '../../core/errors.js';
import { FsCheckpointStore } from '../../state/checkpoint-storage/fs-checkpoint-store.js';
import { JobCheckpointStorage } from '../../state/checkpoint-storage/job-checkpoint-storage.js';
import { N, run, runUntilFailure, sorted } from '../helpers/checkpoint-job.js';

interface Setup {
  readonly work: string;
  readonly checkpoint: string;
  /** Every state file the checkpoint references (shared pieces of this job). */
  readonly stateFiles: string[];
}

/** One checkpointed run for all tests (checkpointing many jobs at once only slows them all); each test corrupts a copy. */
let base: Promise<{ work: string; checkpoints: string; jobId: string; checkpoint: string }> | undefined;

test.before(() => {
  const work = mkdtempSync(path.join(tmpdir(), 'troupe-bad-restore-base-'));
  const checkpoints = path.join(work, 'checkpoints');
  base = runUntilFailure({ parallelism: 2, out: path.join(work, 'first'), checkpoints }).then(({ jobId, checkpoint }) => ({ work, checkpoints, jobId, checkpoint }));
  base.catch(() => undefined);
});

test.after.always(async () => {
  const b = await base?.catch(() => undefined);
  if (b !== undefined) rmSync(b.work, { recursive: true, force: true });
});

async function setup(t: ExecutionContext): Promise<Setup> {
  const b = await base!;
  const work = mkdtempSync(path.join(tmpdir(), 'troupe-bad-restore-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const checkpoints = path.join(work, 'checkpoints');
  cpSync(b.checkpoints, checkpoints, { recursive: true });
  // the files the checkpoint references (shared/ may also hold a late upload of an aborted one)
  const completed = await new JobCheckpointStorage(new FsCheckpointStore(checkpoints), b.jobId).load(Number(path.basename(b.checkpoint).slice(4)));
  const stateFiles = completed.files.map((f) => path.join(checkpoints, b.jobId, f.path));
  t.true(stateFiles.length > 0);
  return { work, checkpoint: path.join(checkpoints, b.jobId, path.basename(b.checkpoint)), stateFiles };
}

async function restoreFails(t: ExecutionContext, s: Setup, code: ErrorCode, options: { from?: string; stateUid?: string } = {}): Promise<TroupeError> {
  const out = path.join(s.work, 'restored');
  const error = await t.throwsAsync(run({ parallelism: 2, out, restoreFrom: options.from ?? s.checkpoint, ...(options.stateUid !== undefined ? { stateUid: options.stateUid } : {}) }), { instanceOf: TroupeError });
  t.is(error.code, code, error.message);
  t.deepEqual(existsSync(out) ? await readCommittedJsonLines(out) : [], [], 'the restoring job committed nothing');
  return error;
}

test('bad restore - a truncated state file fails with TROUPE_CHECKPOINT_CORRUPT naming the file', async (t) => {
  t.timeout(60_000);
  const s = await setup(t);
  const victim = s.stateFiles.at(-1)!;
  truncateSync(victim, Math.floor(readFileSync(victim).length / 2));
  const error = await restoreFails(t, s, 'TROUPE_CHECKPOINT_CORRUPT');
  t.true(error.message.includes(path.basename(victim)), error.message);
});

test('bad restore - a bit-flipped state file fails with TROUPE_CHECKPOINT_CORRUPT naming the file', async (t) => {
  t.timeout(60_000);
  const s = await setup(t);
  const victim = s.stateFiles.at(-1)!;
  const bytes = readFileSync(victim);
  bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x10;
  writeFileSync(victim, bytes);
  const error = await restoreFails(t, s, 'TROUPE_CHECKPOINT_CORRUPT');
  t.true(error.message.includes(path.basename(victim)), error.message);
});

test('bad restore - a missing state file fails with TROUPE_CHECKPOINT_CORRUPT naming the file', async (t) => {
  t.timeout(60_000);
  const s = await setup(t);
  const victim = s.stateFiles[0]!;
  renameSync(victim, `${victim}.gone`);
  const error = await restoreFails(t, s, 'TROUPE_CHECKPOINT_CORRUPT');
  t.true(error.message.includes(path.basename(victim)), error.message);
});

test('bad restore - a savepoint of another job (state for operators this job lacks) is refused naming _metadata, unless allowed', async (t) => {
  t.timeout(60_000);
  const s = await setup(t);
  const error = await restoreFails(t, s, 'TROUPE_SAVEPOINT_INCOMPATIBLE', { stateUid: 'another-operator' });
  t.true(error.message.includes(path.join(s.checkpoint, '_metadata')), error.message);
  // allowed: the keyed state is dropped, the sources still resume from their positions
  const out = path.join(s.work, 'allowed');
  await run({ parallelism: 2, out, restoreFrom: s.checkpoint, stateUid: 'another-operator', allowNonRestoredState: true });
  const lines = await readCommittedJsonLines(out);
  t.true(lines.length > 0 && lines.length < N, `${lines.length} records: only those after the checkpoint`);
});

test('bad restore - a directory without a savepoint fails with TROUPE_CHECKPOINT_NOT_FOUND', async (t) => {
  t.timeout(60_000);
  const s = await setup(t);
  await restoreFails(t, s, 'TROUPE_CHECKPOINT_NOT_FOUND', { from: path.join(s.work, 'nothing-here') });
});

test('bad restore - the intact checkpoint still restores to the full output after the failed attempts', async (t) => {
  t.timeout(60_000);
  const s = await setup(t);
  const b = await base!;
  const out = path.join(s.work, 'first');
  cpSync(path.join(b.work, 'first'), out, { recursive: true });
  await run({ parallelism: 2, out, restoreFrom: s.checkpoint });
  t.is(sorted(await readCommittedJsonLines(out)).length, N);
});
