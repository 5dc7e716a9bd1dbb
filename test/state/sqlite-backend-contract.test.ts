/** The KeyedStateBackend contract (keyed-backend-contract.ts) on the sqlite backend, with a roomy and a tiny cache. */
import { openSqliteKeyedStateBackend } from '../../state/sqlite/sqlite-keyed-state-backend.js';
import { registerKeyedBackendContract } from './keyed-backend-contract.js';

registerKeyedBackendContract('sqlite', async (maxParallelism, range, clock) => openSqliteKeyedStateBackend({ maxParallelism, range, clock }));
// every key evicted almost at once: the store, not the cache, answers
registerKeyedBackendContract('sqlite (cache of 4)', async (maxParallelism, range, clock) => openSqliteKeyedStateBackend({ maxParallelism, range, clock, cacheEntries: 4 }));
