/**
 * The narrow store under the checkpoint directory: whole files at relative paths, nothing else.
 * Two implementations (fs-checkpoint-store.ts, memory-checkpoint-store.ts) pass one contract
 * test suite; everything about formats, fencing and layout lives above it.
 *
 * Contract:
 *  1. Paths are relative, '/'-separated; every segment matches SEGMENT (no '..', no leading '.',
 *     so temporary files can never collide with real ones). Anything else is TROUPE_INVALID_ARGUMENT.
 *  2. `put` is atomic: a reader sees the old file or the whole new one, never a part, also after a
 *     crash (file system: temp file + fsync + rename + directory fsync). With `exclusive`, an
 *     existing file is left alone and `put` resolves false.
 *  3. `get` returns a copy (later puts do not change it); a missing file is undefined.
 *  4. `list(dir)` names the direct children of dir, sorted, directories with a trailing '/'. A
 *     directory without files may be listed by a file-system store, never by the in-memory one.
 *  5. `removeTree(dir)` removes dir and everything below it and nothing else (chk-1 vs chk-10).
 */
import { TroupeError } from '../../core/errors.js';

export interface PutOptions {
  /** Leave an existing file alone and resolve false (create-if-absent). */
  readonly exclusive?: boolean;
}

export interface CheckpointStore {
  /** Where `path` is, for people: an absolute file path, or `memory:/…`. */
  locate(path: string): string;
  put(path: string, bytes: Uint8Array, options?: PutOptions): Promise<boolean>;
  get(path: string): Promise<Uint8Array | undefined>;
  /** Size in bytes, undefined when there is no such file. */
  size(path: string): Promise<number | undefined>;
  list(dir: string): Promise<string[]>;
  /** True when a file was removed. */
  remove(path: string): Promise<boolean>;
  removeTree(dir: string): Promise<void>;
}

export const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.=@+-]{0,199}$/;

/** Splits and checks a store path (contract 1); `''` is the root only where `root` allows it. */
export function checkPath(path: string, root = false): string[] {
  if (typeof path !== 'string') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `store path must be a string, got ${typeof path}`);
  if (path === '' && root) return [];
  const segments = path.split('/');
  for (const s of segments) {
    if (!SEGMENT.test(s)) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `store path ${JSON.stringify(path)} is not a relative path of segments matching ${String(SEGMENT)}`, { details: { path } });
    }
  }
  return segments;
}

/** Checks one path segment (a file or directory name chosen by a caller). */
export function checkSegment(name: string, what: string): void {
  if (typeof name !== 'string' || !SEGMENT.test(name)) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${what} ${JSON.stringify(name)} must match ${String(SEGMENT)}`, { details: { name } });
  }
}

export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}
