/**
 * Lines of text files (Flink's FileSource with a text-line format): a file, or every regular file
 * of a directory (sorted by name). Files are split among subtasks round-robin by their index in
 * that order; a reader reads its files one after the other. Replayable: a reader's position is, per
 * file it still has to finish, the byte offset of the next line (`{ path, offset }`), so a restore
 * (also at another parallelism, where files are redistributed) continues at exactly the next line.
 *
 * Invariants:
 *  1. Every line of every file is emitted once per run from the start; a restored reader emits
 *     exactly the lines at and after its offsets.
 *  2. Lines end at '\n' (a preceding '\r' is dropped); a last line without '\n' is emitted at the
 *     end of its file. Bytes are decoded as UTF-8 per line, so a multi-byte character split across
 *     read chunks stays whole.
 *  3. A file that is missing or unreadable fails the job with TROUPE_INVALID_ARGUMENT naming it; a
 *     restored position past the end of its file does too (the file changed).
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { TroupeError } from '../../../core/errors.js';
import type { Collector } from '../functions.js';
import type { PollResult, Source, SourceContext, SourceReader } from '../source.js';

const CHUNK = 64 * 1024;

export interface FileSplit {
  readonly path: string;
  readonly offset: number;
}

export class FileSource<T = string> implements Source<T> {
  private constructor(
    readonly location: string,
    private readonly parse: ((line: string) => T) | undefined,
  ) {}

  /** One record per line of the file or of every file in the directory. */
  static forLines(location: string): FileSource<string> {
    return new FileSource<string>(absolute(location), undefined);
  }

  /** One record per line, JSON.parse'd (a JSON-lines file, e.g. the output of FileSink.forJsonLines). */
  static forJsonLines<T = unknown>(location: string): FileSource<T> {
    return new FileSource<T>(absolute(location), (line) => JSON.parse(line) as T);
  }

  createReader(ctx: SourceContext): SourceReader<T> {
    const splits: FileSplit[] =
      ctx.restoredState === undefined
        ? this.files()
            .filter((_, i) => i % ctx.parallelism === ctx.subtaskIndex)
            .map((p) => ({ path: p, offset: 0 }))
        : ctx.restoredState.map((s) => checkSplit(s));
    return new FileReader<T>(splits, this.parse);
  }

  private files(): string[] {
    let stat;
    try {
      stat = statSync(this.location);
    } catch (error) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `file source ${this.location} cannot be read: ${(error as Error).message}`, { details: { file: this.location } });
    }
    if (!stat.isDirectory()) return [this.location];
    return readdirSync(this.location)
      .filter((name) => !name.startsWith('.'))
      .sort()
      .map((name) => path.join(this.location, name))
      .filter((p) => statSync(p).isFile());
  }
}

class FileReader<T> implements SourceReader<T> {
  private fd: number | null = null;
  private current = 0;
  /** Offset in the file of buffer[0]. */
  private bufferStart = 0;
  private buffer = Buffer.alloc(0);
  private eof = false;

  constructor(
    private readonly splits: FileSplit[],
    private readonly parse: ((line: string) => T) | undefined,
  ) {}

  pollNext(out: Collector<T>, max: number): PollResult {
    let emitted = 0;
    while (emitted < max) {
      const split = this.splits[this.current];
      if (split === undefined) return 'end';
      if (this.fd === null) this.openSplit(split);
      const nl = this.buffer.indexOf(10);
      if (nl < 0 && !this.eof) {
        this.fill(split.path);
        continue;
      }
      if (nl < 0) {
        // end of file: a last line without '\n', then the next file
        if (this.buffer.length > 0) {
          this.emit(out, this.buffer, split, this.buffer.length);
          emitted++;
        }
        this.closeSplit();
        continue;
      }
      this.emit(out, this.buffer.subarray(0, nl), split, nl + 1);
      emitted++;
    }
    return 'more';
  }

  snapshotState(): unknown[] {
    return this.splits.slice(this.current).map((s, i) => (i === 0 && this.fd !== null ? { path: s.path, offset: this.bufferStart } : { path: s.path, offset: s.offset }));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private emit(out: Collector<T>, bytes: Buffer, split: FileSplit, consumed: number): void {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 13) end--;
    const line = bytes.toString('utf8', 0, end);
    this.buffer = this.buffer.subarray(consumed);
    this.bufferStart += consumed;
    let value: T;
    try {
      value = this.parse === undefined ? (line as T) : this.parse(line);
    } catch (error) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${split.path} at byte ${this.bufferStart - consumed}: cannot parse the line (${(error as Error).message})`, { details: { file: split.path, offset: this.bufferStart - consumed } });
    }
    out.collect(value);
  }

  private openSplit(split: FileSplit): void {
    let size: number;
    try {
      this.fd = openSync(split.path, 'r');
      size = statSync(split.path).size;
    } catch (error) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `file source: ${split.path} cannot be read: ${(error as Error).message}`, { details: { file: split.path } });
    }
    if (split.offset > size) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `file source: restored offset ${split.offset} is past the end of ${split.path} (${size} bytes): the file changed`, { details: { file: split.path, offset: split.offset, size } });
    }
    this.bufferStart = split.offset;
    this.buffer = Buffer.alloc(0);
    this.eof = false;
  }

  private fill(file: string): void {
    const chunk = Buffer.allocUnsafe(CHUNK);
    let n: number;
    try {
      n = readSync(this.fd!, chunk, 0, CHUNK, this.bufferStart + this.buffer.length);
    } catch (error) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `file source: reading ${file} failed: ${(error as Error).message}`, { details: { file } });
    }
    if (n === 0) this.eof = true;
    else this.buffer = this.buffer.length === 0 ? chunk.subarray(0, n) : Buffer.concat([this.buffer, chunk.subarray(0, n)]);
  }

  private closeSplit(): void {
    this.close();
    this.current++;
    this.buffer = Buffer.alloc(0);
    this.eof = false;
  }
}

function absolute(p: string): string {
  if (typeof p !== 'string' || p === '') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `a file source needs a path, got ${String(p)}`);
  return path.resolve(p);
}

function checkSplit(s: unknown): FileSplit {
  const r = s as Partial<FileSplit> | null;
  if (r === null || typeof r !== 'object' || typeof r.path !== 'string' || !path.isAbsolute(r.path) || !Number.isSafeInteger(r.offset) || r.offset! < 0) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `restored file split ${JSON.stringify(s)} is malformed`);
  }
  return { path: r.path, offset: r.offset! };
}
