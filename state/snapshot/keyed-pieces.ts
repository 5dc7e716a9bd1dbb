/**
 * The body of one keyed snapshot file ("piece"), pure. A body is a record-codec records buffer
 * (actors/network/record-codec.ts):
 *
 *   record 0      { format: 'troupe-keyed-piece/1', maxParallelism, range, full, states }
 *   record 1..n   { keyGroup, name, upserts: [stateKey, stored][], deletes: stateKey[] }
 *
 * and decodes to one KeyedStateChanges (state/backend.ts).
 *
 * Invariants:
 *  1. Entry records are in key-group order; one state of one key group may span consecutive
 *     records (and pieces) when it is big. Decoding merges consecutive records of one state.
 *  2. encodePieces splits a capture into bodies of about `targetBytes` (a body exceeds it by at most
 *     one record, whose entry count adapts to the entry sizes; a single entry bigger than the
 *     target gets a body of its own). Applied in order, the bodies restore what the capture holds:
 *     the first keeps the capture's `full` flag, the others are deltas (continuations), so a full
 *     image split in three is "replace the range with part 1, then add parts 2 and 3".
 *  3. Every body, even of an empty capture, names the range, the max parallelism and every state.
 */
import { Buffer, constants as bufferConstants } from 'node:buffer';
import { decodeRecords, RecordEncoder } from '../../actors/network/record-codec.js';
import { KEYED_CHANGES_FORMAT, type KeyedStateChanges } from '../backend.js';
import type { StateKey } from '../key-groups.js';

export const KEYED_PIECE_FORMAT = 'troupe-keyed-piece/1';
/** Encoded body size per piece file. */
export const PIECE_TARGET_BYTES = 32 * 2 ** 20;

const FIRST_SLICE = 1024;

interface EntryRecord {
  readonly keyGroup: number;
  readonly name: string;
  readonly upserts: ReadonlyArray<readonly [StateKey, unknown]>;
  readonly deletes: readonly StateKey[];
}

/** The bodies of the piece files of one capture, in apply order (invariant 2). */
export function encodePieces(changes: KeyedStateChanges, targetBytes: number = PIECE_TARGET_BYTES): Buffer[] {
  // the buffer grown for the first piece is kept for the next ones (regrowing from 64 KiB per
  // 32 MiB piece cost 8 s per GiB written: bench/README.md)
  const encoder = new RecordEncoder({ maxRecordBytes: bufferConstants.MAX_LENGTH, initialCapacity: 64 * 1024, retainBytes: targetBytes * 2 });
  const bodies: Buffer[] = [];
  let full = changes.full;
  const header = (): void => encoder.add({ format: KEYED_PIECE_FORMAT, maxParallelism: changes.maxParallelism, range: changes.range, full, states: changes.states });
  header();
  // entries per record: about a 64th of the target each, so one record never overshoots much
  const recordBytes = Math.max(1, Math.floor(targetBytes / 64));
  let slice = FIRST_SLICE;
  for (const g of changes.keyGroups) {
    for (const s of g.states) {
      let u = 0;
      let d = 0;
      while (u < s.upserts.length || d < s.deletes.length) {
        const upserts = s.upserts.slice(u, u + slice);
        const deletes = s.deletes.slice(d, d + slice - upserts.length);
        u += upserts.length;
        d += deletes.length;
        const before = encoder.byteLength;
        const record: EntryRecord = { keyGroup: g.keyGroup, name: s.name, upserts, deletes };
        encoder.add(record);
        const size = encoder.byteLength - before;
        const entries = upserts.length + deletes.length;
        slice = Math.max(1, Math.min(FIRST_SLICE * 16, Math.floor((entries * recordBytes) / Math.max(1, size))));
        if (encoder.byteLength >= targetBytes) {
          bodies.push(encoder.finish());
          full = false;
          header();
        }
      }
    }
  }
  if (bodies.length === 0 || encoder.count > 1) bodies.push(encoder.finish());
  return bodies;
}

/**
 * The changes one body holds (invariants 1, 3). Throws TROUPE_CODEC_CORRUPT when the bytes do not
 * decode and a plain Error when they decode to something else; check the result with
 * checkKeyedChanges (keyed-changes.ts).
 */
export function decodePiece(body: Uint8Array): KeyedStateChanges {
  const records = decodeRecords(body);
  const head = records[0] as Record<string, unknown> | undefined;
  if (typeof head !== 'object' || head === null || head.format !== KEYED_PIECE_FORMAT) {
    throw new Error(`not a keyed state piece (format ${String((head as { format?: unknown } | undefined)?.format)}, expected ${KEYED_PIECE_FORMAT})`);
  }
  const keyGroups: Array<{ keyGroup: number; states: Array<{ name: string; upserts: Array<readonly [StateKey, unknown]>; deletes: StateKey[] }> }> = [];
  for (let i = 1; i < records.length; i++) {
    const r = records[i] as Partial<EntryRecord> | null;
    if (typeof r !== 'object' || r === null || typeof r.keyGroup !== 'number' || typeof r.name !== 'string' || !Array.isArray(r.upserts) || !Array.isArray(r.deletes)) {
      throw new Error(`record ${i} is not an entry record`);
    }
    let group = keyGroups.at(-1);
    if (group?.keyGroup !== r.keyGroup) keyGroups.push((group = { keyGroup: r.keyGroup, states: [] }));
    const last = group.states.at(-1);
    if (last?.name === r.name) {
      for (const e of r.upserts) last.upserts.push(e);
      for (const k of r.deletes) last.deletes.push(k);
    } else {
      group.states.push({ name: r.name, upserts: r.upserts as Array<readonly [StateKey, unknown]>, deletes: r.deletes as StateKey[] });
    }
  }
  return {
    format: KEYED_CHANGES_FORMAT,
    maxParallelism: head.maxParallelism as number,
    range: head.range as KeyedStateChanges['range'],
    full: head.full as boolean,
    states: head.states as KeyedStateChanges['states'],
    keyGroups,
  };
}
