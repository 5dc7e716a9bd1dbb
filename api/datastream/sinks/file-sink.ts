/**
 * Exactly-once JSON-lines files (Flink's FileSink with an exactly-once commit), by two-phase commit
 * (two-phase-commit-sink.ts). One file per transaction, i.e. per subtask and checkpoint interval:
 *
 *   .part-<id>.inprogress   hidden, written while the transaction is open (created on its first record)
 *   .part-<id>.pending      hidden, pre-committed: flushed, fsynced, moved, directory fsynced
 *   part-<id>.jsonl         visible, committed: moved from the pending name, directory fsynced
 *
 * where <id> is the transaction id `<job>_<scope>_<subtask>_<attempt>_<counter>`. Moves never replace
 * a file (hard link, then unlink the old name). Readers see only committed files: they skip names
 * starting with '.'. Empty transactions leave no file.
 *
 * Commit is idempotent: pending gone and final present → done; both present as one inode → a crash
 * fell between link and unlink, unlink the pending name; both present as two files → two sinks of
 * one job write the same directory under one name → coded error (give them distinct names). Both gone
 * → taken as committed and later consumed (readers may move committed files away), as Flink does.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { TroupeError, causeOf } from '../../../core/errors.js';
import type { SinkContext } from '../sink.js';
import { TransactionalWriter, TwoPhaseCommitSink, type Leftover } from './two-phase-commit-sink.js';

export interface FileSinkOptions {
  /** Name prefix of part files (default 'part'): [A-Za-z0-9-]+. */
  readonly partPrefix?: string;
  /** Bytes buffered in memory before they are written to the in-progress file (default 64 KiB). */
  readonly bufferBytes?: number;
}

export interface FileTransaction {
  readonly id: string;
  readonly dir: string;
  readonly inProgress: string;
  readonly pending: string;
  readonly final: string;
  fd: number | undefined;
  chunks: string[];
  chunkBytes: number;
  bytes: number;
  records: number;
}

const PREFIX = /^[A-Za-z0-9-]+$/;
const fsync = promisify(fs.fsync);
const close = promisify(fs.close);

export class FileSink<T = unknown> extends TwoPhaseCommitSink<T, FileTransaction> {
  private constructor(
    readonly dir: string,
    readonly partPrefix: string,
    private readonly bufferBytes: number,
  ) {
    super();
  }

  /** One JSON line (JSON.stringify) per record, in files under `dir` (created when missing). */
  static forJsonLines<T = unknown>(dir: string, options: FileSinkOptions = {}): FileSink<T> {
    if (typeof dir !== 'string' || dir.trim() === '') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `FileSink.forJsonLines needs a directory path, got ${String(dir)}`);
    const partPrefix = options.partPrefix ?? 'part';
    if (typeof partPrefix !== 'string' || !PREFIX.test(partPrefix)) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `FileSink partPrefix must match ${PREFIX.source}, got ${String(partPrefix)}`);
    }
    const bufferBytes = options.bufferBytes ?? 64 * 1024;
    if (!Number.isInteger(bufferBytes) || bufferBytes < 1) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `FileSink bufferBytes must be a positive integer, got ${String(bufferBytes)}`);
    }
    return new FileSink<T>(path.resolve(dir), partPrefix, bufferBytes);
  }

  protected override createTransactionalWriter(_ctx: SinkContext): TransactionalWriter<T, FileTransaction> {
    return new FileTransactions<T>(this.dir, this.partPrefix, this.bufferBytes);
  }
}

class FileTransactions<T> extends TransactionalWriter<T, FileTransaction> {
  readonly kind = 'json-lines-file';

  constructor(
    private readonly dir: string,
    private readonly partPrefix: string,
    private readonly bufferBytes: number,
  ) {
    super();
  }

  override async open(): Promise<void> {
    try {
      await fsp.mkdir(this.dir, { recursive: true });
    } catch (error) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `FileSink cannot create directory ${this.dir}: ${causeOf(error).message}`, { cause: causeOf(error) });
    }
  }

  beginTransaction(id: string): FileTransaction {
    return this.transaction(id, this.dir);
  }

  write(txn: FileTransaction, value: T): void {
    let line: string | undefined;
    try {
      line = JSON.stringify(value);
    } catch (error) {
      throw new TroupeError('TROUPE_RECORD_NOT_SERIALIZABLE', `FileSink cannot write a record as JSON: ${causeOf(error).message}`, { cause: causeOf(error) });
    }
    if (typeof line !== 'string') throw new TroupeError('TROUPE_RECORD_NOT_SERIALIZABLE', `FileSink cannot write a record as JSON: ${typeof value} has no JSON form`);
    line += '\n';
    txn.chunks.push(line);
    txn.chunkBytes += line.length;
    txn.records++;
    if (txn.chunkBytes >= this.bufferBytes) this.spill(txn);
  }

  isEmpty(txn: FileTransaction): boolean {
    return txn.records === 0;
  }

  async preCommit(txn: FileTransaction): Promise<void> {
    this.spill(txn);
    const fd = txn.fd!;
    txn.fd = undefined;
    try {
      await fsync(fd);
    } finally {
      await close(fd);
    }
    const pending = path.join(txn.dir, txn.pending);
    await moveNoReplace(path.join(txn.dir, txn.inProgress), pending, () => collision(txn, pending));
    await fsyncDir(txn.dir);
  }

  async commit(txn: FileTransaction): Promise<void> {
    const pending = path.join(txn.dir, txn.pending);
    const final = path.join(txn.dir, txn.final);
    const pendingStat = await statOrUndefined(pending);
    if (pendingStat === undefined) return; // committed before (final present, or consumed since)
    if (pendingStat.size !== txn.bytes) {
      throw new TroupeError('TROUPE_CHECKPOINT_CORRUPT', `FileSink: pending file ${pending} holds ${pendingStat.size} bytes, its checkpoint recorded ${txn.bytes}`);
    }
    await moveNoReplace(pending, final, () => collision(txn, final));
    await fsyncDir(txn.dir);
  }

  async abort(txn: FileTransaction): Promise<void> {
    if (txn.fd !== undefined) {
      const fd = txn.fd;
      txn.fd = undefined;
      await close(fd).catch(() => undefined);
    }
    txn.chunks = [];
    txn.chunkBytes = 0;
    await unlinkIfPresent(path.join(txn.dir, txn.inProgress));
    await unlinkIfPresent(path.join(txn.dir, txn.pending));
  }

  toState(txn: FileTransaction): unknown {
    return { dir: txn.dir, pending: txn.pending, final: txn.final, bytes: txn.bytes, records: txn.records };
  }

  fromState(id: string, state: unknown): FileTransaction {
    const s = state as { dir?: unknown; pending?: unknown; final?: unknown; bytes?: unknown; records?: unknown } | null;
    const ok =
      typeof s === 'object' &&
      s !== null &&
      typeof s.dir === 'string' &&
      path.isAbsolute(s.dir) &&
      isBaseName(s.pending) &&
      isBaseName(s.final) &&
      Number.isInteger(s.bytes) &&
      Number.isInteger(s.records);
    if (!ok) throw new TroupeError('TROUPE_CHECKPOINT_CORRUPT', `FileSink: restored transaction ${id} is malformed`);
    const txn = this.transaction(id, s.dir as string);
    return { ...txn, pending: s.pending as string, final: s.final as string, bytes: s.bytes as number, records: s.records as number };
  }

  override async listLeftovers(prefix: string): Promise<Array<Leftover<FileTransaction>>> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const lead = `.${this.partPrefix}-`;
    const out: Array<Leftover<FileTransaction>> = [];
    for (const name of names) {
      const m = /\.(inprogress|pending)$/.exec(name);
      if (m === null || !name.startsWith(`${lead}${prefix}_`)) continue;
      const id = name.slice(lead.length, name.length - m[0].length);
      out.push({ id, sealed: m[1] === 'pending', txn: this.transaction(id, this.dir) });
    }
    return out;
  }

  private transaction(id: string, dir: string): FileTransaction {
    const base = `${this.partPrefix}-${id}`;
    return { id, dir, inProgress: `.${base}.inprogress`, pending: `.${base}.pending`, final: `${base}.jsonl`, fd: undefined, chunks: [], chunkBytes: 0, bytes: 0, records: 0 };
  }

  /** Writes the buffered lines to the in-progress file, creating it (exclusively) on first use. */
  private spill(txn: FileTransaction): void {
    if (txn.fd === undefined) {
      const file = path.join(txn.dir, txn.inProgress);
      if (fs.existsSync(path.join(txn.dir, txn.pending)) || fs.existsSync(path.join(txn.dir, txn.final))) throw collision(txn, file);
      try {
        txn.fd = fs.openSync(file, 'wx');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw collision(txn, file);
        throw error;
      }
    }
    if (txn.chunks.length === 0) return;
    const data = Buffer.from(txn.chunks.join(''), 'utf8');
    txn.chunks = [];
    txn.chunkBytes = 0;
    let offset = 0;
    while (offset < data.length) offset += fs.writeSync(txn.fd, data, offset, data.length - offset);
    txn.bytes += data.length;
  }
}

/**
 * The records of every committed file under `dir` (hidden files skipped), file by file in name
 * order, line by line. For tests and simple consumers.
 */
export async function readCommittedJsonLines<T = unknown>(dir: string, options: { partPrefix?: string } = {}): Promise<T[]> {
  const lead = `${options.partPrefix ?? 'part'}-`;
  const names = (await fsp.readdir(dir)).filter((n) => n.startsWith(lead) && n.endsWith('.jsonl')).sort();
  const out: T[] = [];
  for (const name of names) {
    const text = await fsp.readFile(path.join(dir, name), 'utf8');
    for (const line of text.split('\n')) if (line !== '') out.push(JSON.parse(line) as T);
  }
  return out;
}

/**
 * Renames without replacing: hard link, then unlink the old name. A crash in between leaves both names
 * on one inode, which a retry finishes; a different file under the new name is a collision. Without
 * hard links (some file systems) it checks, then renames.
 */
async function moveNoReplace(from: string, to: string, collision: () => TroupeError): Promise<void> {
  try {
    await fsp.link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      const [a, b] = await Promise.all([fsp.stat(from), fsp.stat(to)]);
      if (a.ino !== b.ino || a.dev !== b.dev) throw collision();
    } else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      if ((await statOrUndefined(to)) !== undefined) throw collision();
      await fsp.rename(from, to);
      return;
    } else {
      throw error;
    }
  }
  await fsp.unlink(from);
}

function collision(txn: FileTransaction, file: string): TroupeError {
  return new TroupeError(
    'TROUPE_INVALID_ARGUMENT',
    `FileSink: ${file} exists and is not transaction ${txn.id} in progress: two sinks of one job write ${txn.dir} under one operator name; give them distinct names or partPrefix`,
  );
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Some platforms cannot fsync a directory; the renames are then as durable as they get.
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw error;
  } finally {
    await handle?.close();
  }
}

async function statOrUndefined(file: string): Promise<fs.Stats | undefined> {
  try {
    return await fsp.stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await fsp.unlink(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function isBaseName(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value !== '.' && value !== '..' && path.basename(value) === value;
}
