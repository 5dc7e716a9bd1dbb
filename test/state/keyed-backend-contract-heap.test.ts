/** The KeyedStateBackend contract (keyed-backend-contract.ts) on the heap backend. */
import { HeapKeyedStateBackend } from '../../state/heap/heap-keyed-state-backend.js';
import { registerKeyedBackendContract } from './keyed-backend-contract.js';

registerKeyedBackendContract('heap', async (maxParallelism, range, clock) => new HeapKeyedStateBackend(maxParallelism, range, { clock }));
