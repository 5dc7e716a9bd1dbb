/** The in-memory twin of the file-system store: same contract (checkpoint-store.ts), one Map. */
import { Buffer } from 'node:buffer';
import { checkPath, type CheckpointStore, type PutOptions } from './checkpoint-store.js';

export class MemoryCheckpointStore implements CheckpointStore {
  private readonly files = new Map<string, Buffer>();

  constructor(private readonly name = 'memory') {}

  locate(path: string): string {
    return `${this.name}:/${path}`;
  }

  async put(path: string, bytes: Uint8Array, options: PutOptions = {}): Promise<boolean> {
    const segments = checkPath(path);
    if (this.isDir(path)) throw new Error(`${this.locate(path)} is a directory`);
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join('/');
      if (this.files.has(parent)) throw new Error(`${this.locate(parent)} is a file, not a directory`);
    }
    if (options.exclusive === true && this.files.has(path)) return false;
    this.files.set(path, Buffer.from(bytes));
    return true;
  }

  async get(path: string): Promise<Uint8Array | undefined> {
    checkPath(path);
    const bytes = this.files.get(path);
    return bytes === undefined ? undefined : Buffer.from(bytes);
  }

  async size(path: string): Promise<number | undefined> {
    checkPath(path);
    return this.files.get(path)?.length;
  }

  async list(dir: string): Promise<string[]> {
    checkPath(dir, true);
    const prefix = dir === '' ? '' : `${dir}/`;
    const names = new Set<string>();
    for (const key of this.files.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      names.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    return [...names].sort();
  }

  async remove(path: string): Promise<boolean> {
    checkPath(path);
    return this.files.delete(path);
  }

  async removeTree(dir: string): Promise<void> {
    checkPath(dir);
    this.files.delete(dir);
    const prefix = `${dir}/`;
    for (const key of [...this.files.keys()]) if (key.startsWith(prefix)) this.files.delete(key);
  }

  private isDir(path: string): boolean {
    const prefix = `${path}/`;
    for (const key of this.files.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }
}
