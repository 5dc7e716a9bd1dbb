/** How a record chooses its subpartition on a network edge (Flink's StreamPartitioner). */
import type { PartitionerKind } from '../../core/job-graph.js';
import { operatorIndexForKey } from '../../state/key-groups.js';
import type { ResultPartition } from './result-partition.js';

export interface RecordWriter {
  write(record: unknown): void;
}

export function recordWriter(
  partition: ResultPartition,
  kind: PartitionerKind,
  keySelector: ((value: unknown) => unknown) | undefined,
  maxParallelism: number,
): RecordWriter {
  switch (kind) {
    case 'forward':
      return { write: (r) => partition.emit(0, r) };
    case 'rebalance':
      return { write: (r) => partition.emitRoundRobin(r) };
    case 'broadcast':
      return { write: (r) => partition.broadcast(r) };
    case 'hash': {
      if (keySelector === undefined) throw new Error(`hash edge ${partition.edgeId} has no key selector`);
      const n = partition.numSubpartitions;
      return { write: (r) => partition.emit(operatorIndexForKey(keySelector(r), maxParallelism, n), r) };
    }
  }
}
