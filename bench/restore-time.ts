/**
 * Restore time vs keyed state size (figures, never pass/fail). For each size S (MiB of values):
 * a heap keyed backend (max parallelism 128, one subtask owning all key groups) holding S × 1024
 * keys of ValueState<string>, each value a distinct 1 KiB string; a full checkpoint written with
 * writeKeyedSnapshot into a file-system checkpoint store in a temp dir and finalized; then that
 * checkpoint restored with restoreKeyedState into a fresh heap backend and into a fresh sqlite
 * backend, each timed and spot-checked; then the pieces read and decoded once more, without a
 * backend, to split the restore into read+verify, decode and apply.
 *
 *   npm run bench -- restore-time [--sizes 100,1000]
 *
 * Every size runs in a child process of its own (`--max-old-space-size=12000 --expose-gc`), so the
 * heap is clean per size and 1 GiB of state fits. The parent makes the temp dir of each size and
 * removes it when the child ends, whatever happened to it.
 */
import { Buffer } from 'node:buffer';
import { fork } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { FsCheckpointStore, JobCheckpointStorage } from '../state/checkpoint-storage/index.js';
import { HeapKeyedStateBackend } from '../state/heap/heap-keyed-state-backend.js';
import { decodePiece } from '../state/snapshot/keyed-pieces.js';
import { keyedHandleFiles, restoreKeyedState, writeKeyedSnapshot, type KeyedStateHandle } from '../state/snapshot/keyed-snapshot.js';
import { openSqliteKeyedStateBackend } from '../state/sqlite/sqlite-keyed-state-backend.js';
import type { KeyedStateBackend } from '../state/backend.js';

const MAX_P = 128;
const RANGE = { start: 0, end: MAX_P - 1 } as const;
const JOB = 'bench0restore0time00000000000000';
const STATE = { name: 'payload' } as const;
const VALUE_BYTES = 1024;
const CHILD_FLAG = '--restore-time-child';

interface Row {
  readonly sizeMiB: number;
  readonly keys: number;
  readonly checkpointBytes: number;
  readonly files: number;
  readonly populateMs: number;
  readonly writeMs: number;
  readonly heapRestoreMs: number;
  readonly heapRestoreCpuMs: number;
  readonly sqliteRestoreMs: number;
  readonly sqliteRestoreCpuMs: number;
  readonly sqliteFileBytes: number;
  readonly readMs: number;
  readonly decodeMs: number;
  readonly peakRssMiB: number;
}

const mib = (bytes: number): number => bytes / 2 ** 20;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
let peakRss = 0;
const mem = (): string => {
  const { heapUsed, rss } = process.memoryUsage();
  peakRss = Math.max(peakRss, rss);
  return `heap ${mib(heapUsed).toFixed(0)} MiB, rss ${mib(rss).toFixed(0)} MiB`;
};

/** A distinct flat 1 KiB one-byte string per key: the key in base 36, then filler that varies with it. */
function valueOf(template: Buffer, k: number): string {
  template.write(k.toString(36).padStart(8, '0'), 0, 'latin1');
  template[8 + (k % (VALUE_BYTES - 8))] = 97 + (k % 26);
  const s = template.toString('latin1');
  template[8 + (k % (VALUE_BYTES - 8))] = 120;
  return s;
}

function spotCheck(name: string, keys: number, read: (k: number) => string | undefined): void {
  const template = Buffer.alloc(VALUE_BYTES, 120);
  for (let k = 0; k < keys; k += Math.max(1, Math.floor(keys / 997))) {
    const got = read(k);
    if (got !== valueOf(template, k)) throw new Error(`${name}: key ${k} restored ${got === undefined ? 'nothing' : `a wrong value (${got.slice(0, 12)}…)`}`);
  }
}

/** Wall ms and process CPU ms (all threads: sqlite works in the libuv pool) of one restore. */
async function timedRestore(storage: JobCheckpointStorage, handle: KeyedStateHandle, backend: KeyedStateBackend): Promise<{ ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const groups = await restoreKeyedState(storage.reader(), [handle], backend);
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  if (groups !== MAX_P) throw new Error(`restored ${groups} key groups, expected ${MAX_P}`);
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

/** One size, in this (child) process; `root` is an empty directory the caller removes. */
async function measure(sizeMiB: number, root: string): Promise<Row> {
  const keys = sizeMiB * 1024;
  const log = (s: string): void => console.log(`  [${sizeMiB} MiB] ${s}`);
  const storage = new JobCheckpointStorage(new FsCheckpointStore(nodePath.join(root, 'checkpoints')), JOB);

  let live: HeapKeyedStateBackend | null = new HeapKeyedStateBackend(MAX_P, RANGE);
  const state = live.getValueState<string>(STATE);
  const template = Buffer.alloc(VALUE_BYTES, 120);
  let start = performance.now();
  for (let k = 0; k < keys; k++) {
    live.setCurrentKey(k);
    state.update(valueOf(template, k));
  }
  const populateMs = performance.now() - start;
  log(`populate ${keys.toLocaleString('en')} keys ${populateMs.toFixed(0)} ms (${mem()})`);

  start = performance.now();
  const capture = live.capture(true);
  const handle = await writeKeyedSnapshot(storage.writer(1, 0), capture, null, { operatorId: 'payload', subtask: 0, checkpointId: 1 });
  await storage.finalize(1, 0, { timestamp: Date.now(), files: keyedHandleFiles(handle) });
  const writeMs = performance.now() - start;
  const checkpointBytes = handle.pieces.reduce((n, p) => n + p.bytes, 0);
  log(`full checkpoint ${mib(checkpointBytes).toFixed(1)} MiB in ${handle.pieces.length} file(s), ${writeMs.toFixed(0)} ms (${mem()})`);
  live = null; // the restores run without the live state on the heap
  gc();

  const heapBackend = new HeapKeyedStateBackend(MAX_P, RANGE);
  const { ms: heapRestoreMs, cpuMs: heapRestoreCpuMs } = await timedRestore(storage, handle, heapBackend);
  if (heapBackend.sizes()[STATE.name] !== keys) throw new Error(`heap restore: ${heapBackend.sizes()[STATE.name]} keys, expected ${keys}`);
  const heapState = heapBackend.getValueState<string>(STATE);
  spotCheck('heap restore', keys, (k) => {
    heapBackend.setCurrentKey(k);
    return heapState.value();
  });
  log(`restore heap ${heapRestoreMs.toFixed(0)} ms (cpu ${heapRestoreCpuMs.toFixed(0)} ms), checked (${mem()})`);
  await heapBackend.dispose();
  gc();

  const sqliteDir = nodePath.join(root, 'sqlite');
  await fs.mkdir(sqliteDir);
  const sqliteBackend = await openSqliteKeyedStateBackend({ maxParallelism: MAX_P, range: RANGE, dir: sqliteDir, name: 'restore' });
  let sqliteFileBytes = 0;
  let sqliteRestoreMs: number;
  let sqliteRestoreCpuMs: number;
  try {
    ({ ms: sqliteRestoreMs, cpuMs: sqliteRestoreCpuMs } = await timedRestore(storage, handle, sqliteBackend));
    const sqliteState = sqliteBackend.getValueState<string>(STATE);
    const probe: number[] = [];
    for (let k = 0; k < keys; k += Math.max(1, Math.floor(keys / 997))) probe.push(k);
    await sqliteBackend.prefetch(probe);
    spotCheck('sqlite restore', keys, (k) => {
      sqliteBackend.setCurrentKey(k);
      return sqliteState.value();
    });
    const files: string[] = [];
    for (const f of (await fs.readdir(sqliteDir)).sort()) {
      const bytes = (await fs.stat(nodePath.join(sqliteDir, f))).size;
      sqliteFileBytes += bytes;
      files.push(`${f} ${mib(bytes).toFixed(1)}`);
    }
    log(`restore sqlite ${sqliteRestoreMs.toFixed(0)} ms (cpu ${sqliteRestoreCpuMs.toFixed(0)} ms), checked; database files ${mib(sqliteFileBytes).toFixed(1)} MiB (${files.join(', ')} MiB) (${mem()})`);
  } finally {
    await sqliteBackend.dispose();
  }
  gc();

  // the restore's parts, without a backend: read + verify (checksum, header), then decode
  const reader = storage.reader();
  let readMs = 0;
  let decodeMs = 0;
  for (const piece of handle.pieces) {
    start = performance.now();
    const body = await reader.read(piece);
    readMs += performance.now() - start;
    start = performance.now();
    const changes = decodePiece(body);
    decodeMs += performance.now() - start;
    if (changes.maxParallelism !== MAX_P) throw new Error('decoded a piece of another max parallelism');
  }
  log(`read+verify ${readMs.toFixed(0)} ms, decode ${decodeMs.toFixed(0)} ms (one piece at a time); load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  mem();

  return {
    sizeMiB,
    keys,
    checkpointBytes,
    files: handle.pieces.length,
    populateMs,
    writeMs,
    heapRestoreMs,
    heapRestoreCpuMs,
    sqliteRestoreMs,
    sqliteRestoreCpuMs,
    sqliteFileBytes,
    readMs,
    decodeMs,
    peakRssMiB: mib(peakRss),
  };
}

function runChild(sizeMiB: number, root: string): Promise<Row> {
  return new Promise<Row>((resolve, reject) => {
    let row: Row | undefined;
    const child = fork(__filename, [CHILD_FLAG, String(sizeMiB), root], { execArgv: ['--max-old-space-size=12000', '--expose-gc'], stdio: 'inherit' });
    child.on('message', (m) => (row = m as Row));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 && row !== undefined) resolve(row);
      else reject(new Error(`restore-time child for ${sizeMiB} MiB ended with ${signal ?? `code ${String(code)}`}${row === undefined ? ', no result' : ''}`));
    });
  });
}

const pad = (s: string, n: number): string => s.padStart(n);

export async function restoreTime(sizes: readonly number[]): Promise<void> {
  for (const s of sizes) if (!Number.isSafeInteger(s) || s < 1) throw new Error(`--sizes takes positive integers (MiB), got ${s}`);
  console.log(
    `Restore time: heap keyed backend, ValueState<string> of ${VALUE_BYTES} B per key, S × 1024 keys, max parallelism ${MAX_P}, one subtask; full checkpoint into an fs store under ${tmpdir()}; restore into heap and sqlite; one child process per size; Node ${process.version}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`,
  );
  const rows: Row[] = [];
  for (const size of sizes) {
    const root = await fs.mkdtemp(nodePath.join(tmpdir(), 'troupe-bench-restore-'));
    try {
      rows.push(await runChild(size, root));
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  }
  console.log(`  ${pad('S MiB', 6)} ${pad('keys', 10)} ${pad('ckpt MiB', 9)} ${pad('files', 5)} ${pad('write ms', 9)} ${pad('heap ms', 8)} ${pad('(cpu)', 7)} ${pad('MiB/s', 6)} ${pad('sqlite ms', 9)} ${pad('(cpu)', 7)} ${pad('MiB/s', 6)} ${pad('sqlite/heap', 11)} ${pad('read ms', 8)} ${pad('decode ms', 9)} ${pad('db MiB', 7)} ${pad('peak rss', 9)}`);
  for (const r of rows) {
    const ck = mib(r.checkpointBytes);
    console.log(
      `  ${pad(String(r.sizeMiB), 6)} ${pad(r.keys.toLocaleString('en'), 10)} ${pad(ck.toFixed(1), 9)} ${pad(String(r.files), 5)} ${pad(r.writeMs.toFixed(0), 9)} ${pad(r.heapRestoreMs.toFixed(0), 8)} ${pad(r.heapRestoreCpuMs.toFixed(0), 7)} ${pad((ck / (r.heapRestoreMs / 1000)).toFixed(0), 6)} ${pad(r.sqliteRestoreMs.toFixed(0), 9)} ${pad(r.sqliteRestoreCpuMs.toFixed(0), 7)} ${pad((ck / (r.sqliteRestoreMs / 1000)).toFixed(0), 6)} ${pad((r.sqliteRestoreMs / r.heapRestoreMs).toFixed(2), 11)} ${pad(r.readMs.toFixed(0), 8)} ${pad(r.decodeMs.toFixed(0), 9)} ${pad(mib(r.sqliteFileBytes).toFixed(0), 7)} ${pad(r.peakRssMiB.toFixed(0), 9)}`,
    );
  }
  if (rows.length >= 2) {
    const a = rows[0]!;
    const b = rows.at(-1)!;
    const x = b.checkpointBytes / a.checkpointBytes;
    console.log(
      `  ${b.sizeMiB} vs ${a.sizeMiB} MiB: state ×${x.toFixed(1)}, write ×${(b.writeMs / a.writeMs).toFixed(1)}, heap restore ×${(b.heapRestoreMs / a.heapRestoreMs).toFixed(1)}, sqlite restore ×${(b.sqliteRestoreMs / a.sqliteRestoreMs).toFixed(1)} (linear = ×${x.toFixed(1)})`,
    );
  }
}

if (process.argv[2] === CHILD_FLAG) {
  const size = Number(process.argv[3]);
  const root = process.argv[4]!;
  measure(size, root)
    // run by hand (e.g. with --cpu-prof), without the parent's IPC channel: print the row
    .then((row) => (process.send !== undefined ? process.send(row, () => process.exit(0)) : console.log(JSON.stringify(row))))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
