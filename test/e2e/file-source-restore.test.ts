/**
 * The file source is replayable: a job reading a directory of text files, stopped by a failure after
 * a completed checkpoint and restored from it at another parallelism, commits every line's result
 * exactly once through the 2PC file sink.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { StreamExecutionEnvironment } from '../../api/datastream/environment.js';
import type { Collector, KeyedProcessContext } from '../../api/datastream/functions.js';
import { FileSink, readCommittedJsonLines } from '../../api/datastream/sinks/file-sink.js';
import { hasCommittedOutput, latestCheckpoint } from '../helpers/checkpoint-job.js';

const FILES = 6;
const LINES = 2_000;

async function run(input: string, out: string, checkpoints: string, parallelism: number, failAfterCheckpoint: boolean, restoreFrom?: string): Promise<void> {
  const env = StreamExecutionEnvironment.create({ parallelism });
  env.enableCheckpointing(50).setCheckpointStorage(checkpoints).setRestartStrategy({ type: 'none' });
  if (restoreFrom !== undefined) env.restoreFrom(restoreFrom);
  let seen = 0;
  let failed = false;
  env
    .readTextFile(input)
    .uid('lines')
    .map((line) => {
      const until = performance.now() + 0.2; // slow enough for several checkpoints before the files end
      while (performance.now() < until);
      if (failAfterCheckpoint && !failed && ++seen > 500 && hasCommittedOutput(out)) {
        failed = true;
        throw new Error('stop');
      }
      const [file, n] = line.split(':');
      return { file: file!, n: Number(n) };
    })
    .uid('parse')
    .keyBy((r) => r.file)
    .process({
      processElement(r: { file: string; n: number }, ctx: KeyedProcessContext<string>, out: Collector<{ file: string; n: number; count: number }>): void {
        const count = ctx.runtime.getState<number>({ name: 'count' });
        count.update((count.value() ?? 0) + 1);
        out.collect({ ...r, count: count.value()! });
      },
    })
    .uid('count')
    .sinkTo(FileSink.forJsonLines(out))
    .uid('out');
  await env.execute('file source');
}

test('file source - stopped after a checkpoint and restored at another parallelism: every line once', async (t) => {
  t.timeout(60_000);
  const work = mkdtempSync(path.join(tmpdir(), 'troupe-file-restore-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const input = path.join(work, 'in');
  mkdirSync(input);
  for (let f = 0; f < FILES; f++) writeFileSync(path.join(input, `part-${f}.txt`), Array.from({ length: LINES }, (_, i) => `f${f}:${i}`).join('\n') + '\n');
  const out = path.join(work, 'out');
  const checkpoints = path.join(work, 'checkpoints');
  const error = await t.throwsAsync(run(input, out, checkpoints, 2, true));
  const jobId = String((error as { details?: { jobId?: unknown } }).details?.jobId);
  await run(input, out, checkpoints, 3, false, latestCheckpoint(checkpoints, jobId));
  const lines = await readCommittedJsonLines<{ file: string; n: number; count: number }>(out);
  const keys = new Set(lines.map((l) => `${l.file}:${l.n}`));
  t.is(lines.length, FILES * LINES, 'no line twice');
  t.is(keys.size, FILES * LINES, 'every line');
  // per file the counts run 1..LINES without a gap or repeat: the keyed state was restored too
  for (let f = 0; f < FILES; f++) {
    const counts = lines.filter((l) => l.file === `f${f}`).map((l) => l.count).sort((a, b) => a - b);
    t.deepEqual(counts, Array.from({ length: LINES }, (_, i) => i + 1));
  }
});
