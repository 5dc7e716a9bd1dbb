/**
 * The checkpoint store on a file system: a directory every host sees (a local path in tests and
 * single-host clusters, a shared mount across hosts). Contract in checkpoint-store.ts.
 *
 * A put writes `.<name>.<random>.tmp` beside the target, fsyncs it, renames it over the target
 * (or hard-links it for an exclusive put, which fails atomically when the target exists) and
 * fsyncs the directory, so a crash leaves the old file or the new one. Leftover temp files start
 * with '.', which no store path may, so they are never listed or read.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { checkPath, type CheckpointStore, type PutOptions } from './checkpoint-store.js';

const errno = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | null)?.code;

export class FsCheckpointStore implements CheckpointStore {
  readonly root: string;

  constructor(root: string) {
    this.root = nodePath.resolve(root);
  }

  locate(path: string): string {
    return nodePath.join(this.root, ...path.split('/'));
  }

  async put(path: string, bytes: Uint8Array, options: PutOptions = {}): Promise<boolean> {
    const segments = checkPath(path);
    const target = this.locate(path);
    const dir = nodePath.dirname(target);
    const created = await fs.mkdir(dir, { recursive: true });
    if (created !== undefined) await this.syncNewDirectories(created, dir);
    const temp = nodePath.join(dir, `.${segments.at(-1)!}.${randomBytes(6).toString('hex')}.tmp`);
    let tempExists = false;
    try {
      const handle = await fs.open(temp, 'wx');
      tempExists = true;
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (options.exclusive === true) {
        if (!(await this.linkExclusive(temp, target))) return false;
      } else {
        await fs.rename(temp, target);
        tempExists = false;
      }
      await syncDirectory(dir);
      return true;
    } finally {
      if (tempExists) await fs.rm(temp, { force: true });
    }
  }

  async get(path: string): Promise<Uint8Array | undefined> {
    checkPath(path);
    try {
      return await fs.readFile(this.locate(path));
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'EISDIR' || errno(error) === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  async size(path: string): Promise<number | undefined> {
    checkPath(path);
    try {
      const stat = await fs.stat(this.locate(path));
      return stat.isFile() ? stat.size : undefined;
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  async list(dir: string): Promise<string[]> {
    checkPath(dir, true);
    let entries;
    try {
      entries = await fs.readdir(dir === '' ? this.root : this.locate(dir), { withFileTypes: true });
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return [];
      throw error;
    }
    const names: string[] = [];
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      if (e.isDirectory()) names.push(`${e.name}/`);
      else if (e.isFile()) names.push(e.name);
    }
    return names.sort();
  }

  async remove(path: string): Promise<boolean> {
    checkPath(path);
    try {
      await fs.unlink(this.locate(path));
      return true;
    } catch (error) {
      if (errno(error) === 'ENOENT') return false;
      throw error;
    }
  }

  async removeTree(dir: string): Promise<void> {
    checkPath(dir);
    await fs.rm(this.locate(dir), { recursive: true, force: true });
  }

  /** Create-if-absent: link() fails atomically on an existing target; false when it exists. */
  private async linkExclusive(temp: string, target: string): Promise<boolean> {
    try {
      await fs.link(temp, target);
      return true;
    } catch (error) {
      const code = errno(error);
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
    }
    // no hard links on this file system: check, then rename (a concurrent writer can slip between)
    if ((await this.exists(target)) !== false) return false;
    await fs.rename(temp, target);
    return true;
  }

  private async exists(file: string): Promise<boolean> {
    try {
      await fs.lstat(file);
      return true;
    } catch (error) {
      if (errno(error) === 'ENOENT') return false;
      throw error;
    }
  }

  /** mkdir -p created `first` … `last`: each new entry must reach its parent directory on disk. */
  private async syncNewDirectories(first: string, last: string): Promise<void> {
    let dir = last;
    for (;;) {
      await syncDirectory(nodePath.dirname(dir));
      if (dir === first || nodePath.dirname(dir) === dir) return;
      dir = nodePath.dirname(dir);
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(dir, 'r');
  } catch (error) {
    // some platforms (Windows) cannot open a directory; the rename is as durable as they allow
    if (errno(error) === 'EISDIR' || errno(error) === 'EPERM' || errno(error) === 'EACCES') return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    if (errno(error) !== 'EINVAL' && errno(error) !== 'EBADF') throw error;
  } finally {
    await handle.close();
  }
}
