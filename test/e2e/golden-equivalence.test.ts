/**
 * Golden equivalence: the same job, run three ways, commits the same output — straight; with
 * checkpoints, stopped by a failure and restored from its latest checkpoint; and restored at another
 * parallelism. Keyed state (value and map) and a 2PC file sink; one source, so every key sees its
 * records in one order and the output is deterministic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { readCommittedJsonLines } from '../../api/datastream/sinks/file-sink.js';
import type { StateBackendKind } from '../../state/backend.js';
import { KEYS, N, run, runUntilFailure, sorted, type Out } from '../helpers/checkpoint-job.js';

/** Runs with checkpoints until the failure at `failAt`, then restores from the latest checkpoint. */
async function stopAndRestore(work: string, name: string, first: number, second: number, backend: StateBackendKind, incremental: boolean): Promise<Out[]> {
  const out = path.join(work, name);
  const checkpoints = path.join(work, `${name}-checkpoints`);
  const { checkpoint } = await runUntilFailure({ parallelism: first, out, checkpoints, backend, incremental });
  await run({ parallelism: second, out, checkpoints, restoreFrom: checkpoint, backend, incremental });
  return readCommittedJsonLines<Out>(out);
}

const expected = (() => {
  const lines: Out[] = [];
  const count = new Map<number, number>();
  const sum = new Map<number, number>();
  const mods = new Map<number, Set<number>>();
  for (let x = 0; x < N; x++) {
    const k = x % KEYS;
    count.set(k, (count.get(k) ?? 0) + 1);
    sum.set(k, (sum.get(k) ?? 0) + x);
    const m = mods.get(k) ?? new Set<number>();
    m.add(x % 7);
    mods.set(k, m);
    lines.push({ k, n: count.get(k)!, sum: sum.get(k)!, distinctMod: m.size });
  }
  return sorted(lines);
})();

for (const [backend, incremental] of [
  ['heap', false],
  ['heap', true],
  ['sqlite', true],
] as const) {
  test(`golden - ${backend}${incremental ? ' incremental' : ''}: straight, stopped and restored, and restored at another parallelism commit identical output`, async (t) => {
    t.timeout(90_000);
    const work = mkdtempSync(path.join(tmpdir(), 'troupe-golden-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const straightOut = path.join(work, 'straight');
    await run({ parallelism: 2, out: straightOut, backend, incremental });
    const straight = sorted(await readCommittedJsonLines<Out>(straightOut));
    t.is(straight.length, N);
    t.deepEqual(straight, expected, 'the straight run computes the expected output');
    t.deepEqual(sorted(await stopAndRestore(work, 'restored', 2, 2, backend, incremental)), straight, 'stop and restore at the same parallelism');
    t.deepEqual(sorted(await stopAndRestore(work, 'rescaled', 2, 3, backend, incremental)), straight, 'restore at parallelism 3');
  });
}
