/**
 * Resolves the checkpoint storage a job names to a CheckpointStore: a directory on a (shared) file
 * system, or `memory:<name>`, an in-memory store registered in this process (embedded clusters and
 * tests, e.g. a store with injected faults). A `memory:` store is seen only by this process.
 */
import { TroupeError } from '../../core/errors.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { FsCheckpointStore } from './fs-checkpoint-store.js';

const MEMORY = /^memory:[A-Za-z0-9_.-]{1,64}$/;
const registry = new Map<string, CheckpointStore>();

export function isMemoryStorage(root: string): boolean {
  return root.startsWith('memory:');
}

/** Makes `store` the one `memory:<name>` resolves to in this process; returns the root to configure. */
export function registerMemoryStore(name: string, store: CheckpointStore): string {
  const root = `memory:${name}`;
  if (!MEMORY.test(root)) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `memory store name must be 1-64 characters of [A-Za-z0-9_.-], got ${JSON.stringify(name)}`);
  registry.set(root, store);
  return root;
}

export function unregisterMemoryStore(name: string): void {
  registry.delete(`memory:${name}`);
}

export function openCheckpointStore(root: string): CheckpointStore {
  if (!isMemoryStorage(root)) return new FsCheckpointStore(root);
  const store = registry.get(root);
  if (store === undefined) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `no in-memory checkpoint store ${root} is registered in this process`, { details: { root } });
  return store;
}
