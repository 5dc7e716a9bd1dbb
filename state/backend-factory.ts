/** Creates the keyed state backend a job configured (state/backend.ts) for one subtask. */
import { mkdir } from 'node:fs/promises';
import { TroupeError } from '../core/errors.js';
import type { KeyedStateBackend, StateBackendConfig } from './backend.js';
import { HeapKeyedStateBackend } from './heap/heap-keyed-state-backend.js';
import type { KeyGroupRange } from './key-groups.js';
import { openSqliteKeyedStateBackend } from './sqlite/sqlite-keyed-state-backend.js';

export const HEAP_FULL: StateBackendConfig = Object.freeze({ kind: 'heap', incremental: false });

/** `name` identifies the subtask's files (sqlite: the database file). */
export async function createKeyedStateBackend(config: StateBackendConfig, maxParallelism: number, range: KeyGroupRange, name: string): Promise<KeyedStateBackend> {
  switch (config.kind) {
    case 'heap':
      return new HeapKeyedStateBackend(maxParallelism, range, { trackChanges: config.incremental });
    case 'sqlite':
      if (config.sqlite?.dir !== undefined) await mkdir(config.sqlite.dir, { recursive: true });
      return openSqliteKeyedStateBackend({ maxParallelism, range, name, ...config.sqlite });
    default:
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `unknown state backend '${String((config as { kind?: unknown }).kind)}' (heap or sqlite) for ${name}`);
  }
}
