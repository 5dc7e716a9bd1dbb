/**
 * Task ⇄ Task data plane (Flink 1.5's credit-based network stack).
 *
 * Invariants:
 *  1. Per (edge, producer subtask, consumer subtask) channel, `seq` starts at 0 and increases by
 *     one per buffer or event; a receiver fails the task on a gap or a repeat.
 *  2. A `buffer` is sent only against credit; `credit` announces newly free receiver slots.
 *  3. `end-of-partition` is the last item of a channel.
 *  4. `records` is the codec boundary: in-process channels hand the array over by reference; a
 *     remote subpartition encodes records as they are emitted (record-codec.ts) and the receiving
 *     endpoint decodes before the task sees them, so a task only ever receives arrays.
 */
import type { NetworkEvent } from '../network/result-partition.js';

export type DataPlaneMessage =
  | { readonly type: 'buffer'; readonly edge: string; readonly producer: number; readonly seq: number; readonly records: unknown[] | Uint8Array; readonly backlog: number }
  | { readonly type: 'event'; readonly edge: string; readonly producer: number; readonly seq: number; readonly event: NetworkEvent }
  | { readonly type: 'credit'; readonly edge: string; readonly consumer: number; readonly credit: number };
