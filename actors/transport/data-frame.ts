/**
 * The wire form of a data-plane message between processes (one DATA frame each).
 *
 *   u32 BE header length | header (record codec: to, type, edge, producer/consumer, seq, backlog,
 *   credit, event) | records (record codec buffer, `buffer` messages only)
 *
 * A producer's remote subpartition already holds its records encoded (`Uint8Array`), so sending
 * copies no record; the receiver decodes before the task sees the buffer.
 */
import { TroupeError } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';
import { decodeRecords, decodeValue, encodeValue } from '../network/record-codec.js';
import type { DataPlaneMessage } from '../protocol/data-plane.js';

interface Header {
  to: ExecutionAttemptId;
  m: Omit<DataPlaneMessage, 'records'> & { records?: undefined };
}

export function encodeDataFrame(to: ExecutionAttemptId, message: DataPlaneMessage): Buffer {
  if (message.type !== 'buffer') {
    const header = encodeValue({ to, m: message });
    const out = Buffer.allocUnsafe(4 + header.length);
    out.writeUInt32BE(header.length, 0);
    header.copy(out, 4);
    return out;
  }
  const { records, ...rest } = message;
  if (!(records instanceof Uint8Array)) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `a remote buffer to ${to} was not encoded by its subpartition`);
  const header = encodeValue({ to, m: rest });
  const out = Buffer.allocUnsafe(4 + header.length + records.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  out.set(records, 4 + header.length);
  return out;
}

export function decodeDataFrame(payload: Buffer): { to: ExecutionAttemptId; message: DataPlaneMessage } {
  if (payload.length < 4) throw new TroupeError('TROUPE_CODEC_CORRUPT', 'data frame shorter than its header length');
  const n = payload.readUInt32BE(0);
  if (4 + n > payload.length) throw new TroupeError('TROUPE_CODEC_CORRUPT', `data frame header of ${n} bytes exceeds the frame`);
  const header = decodeValue(payload.subarray(4, 4 + n)) as Header;
  if (header === null || typeof header !== 'object' || typeof header.to !== 'string' || header.m === null || typeof header.m !== 'object') {
    throw new TroupeError('TROUPE_CODEC_CORRUPT', 'data frame header is malformed');
  }
  const problem = messageProblem(header.m);
  if (problem !== null) throw new TroupeError('TROUPE_CODEC_CORRUPT', `data frame to ${header.to}: ${problem}`);
  if (header.m.type !== 'buffer') {
    if (4 + n !== payload.length) throw new TroupeError('TROUPE_CODEC_CORRUPT', 'trailing bytes after a data-plane event');
    return { to: header.to, message: header.m as DataPlaneMessage };
  }
  const records = decodeRecords(payload.subarray(4 + n));
  return { to: header.to, message: { ...(header.m as Omit<Extract<DataPlaneMessage, { type: 'buffer' }>, 'records'>), records } };
}

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** What is wrong with a decoded data-plane message header, or null (the codec checks bytes, this checks meaning). */
function messageProblem(m: Record<string, unknown>): string | null {
  if (typeof m.edge !== 'string') return 'no edge';
  switch (m.type) {
    case 'buffer':
      return isCount(m.producer) && isCount(m.seq) && isCount(m.backlog) ? null : 'bad buffer header';
    case 'credit':
      return isCount(m.consumer) && isCount(m.credit) && (m.credit as number) > 0 ? null : 'bad credit';
    case 'event': {
      if (!isCount(m.producer) || !isCount(m.seq)) return 'bad event header';
      const e = m.event as Record<string, unknown> | null | undefined;
      if (e === null || typeof e !== 'object') return 'event without a body';
      switch (e.kind) {
        case 'end-of-partition':
          return Object.keys(e).length === 1 ? null : 'bad end-of-partition';
        case 'watermark':
          return typeof e.timestamp === 'number' ? null : 'bad watermark';
        case 'checkpoint-barrier':
          return isCount(e.checkpointId) && typeof e.timestamp === 'number' && (e.savepoint === undefined || typeof e.savepoint === 'string') ? null : 'bad checkpoint barrier';
        case 'cancel-checkpoint':
          return isCount(e.checkpointId) ? null : 'bad cancel-checkpoint';
        default:
          return `unknown event kind ${String(e.kind)}`;
      }
    }
    default:
      return `unknown message type ${String(m.type)}`;
  }
}
