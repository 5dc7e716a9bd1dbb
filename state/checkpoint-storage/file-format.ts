/**
 * The envelope of every checkpoint file, pure. Layout (big-endian):
 *
 *   0  8 bytes  magic "TROUPECK"          8  u16  format version (1)
 *   10 u8       kind                      11 u8   reserved (0)
 *   12 u32      epoch of the writer       16 u64  checkpoint id
 *   24 u64      body length               32 u16  job id length n
 *   34 n bytes  job id (UTF-8)            34+n    32 bytes sha256(bytes 0..34+n ‖ body)
 *   66+n        body
 *
 * Invariants:
 *  1. The digest covers the header and the body: any flipped bit is found, and so is a file cut
 *     short or grown; the checks run before the header is believed (job, checkpoint, kind).
 *  2. Every failure is TROUPE_CHECKPOINT_CORRUPT whose message and `details.file` name the file
 *     and whose `details.reason` says what was wrong; nothing is returned from a file that fails.
 *     (TROUPE_CODEC_CORRUPT stays the record codec's: a body that does not decode is wrapped as
 *     TROUPE_CHECKPOINT_CORRUPT naming the file, with the codec error as the cause.)
 *  3. The digest (hex) identifies the file's exact bytes: a handle pins it, so a file replaced
 *     later, even by a valid one, is refused ('digest-mismatch').
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { TroupeError, causeOf } from '../../core/errors.js';

export const FILE_MAGIC = 'TROUPECK';
export const FORMAT_VERSION = 1;
const FIXED = 34;
const DIGEST = 32;
const MAX_JOB_ID_BYTES = 1024;

export type FileKind = 'exclusive' | 'shared' | 'task-owned' | 'metadata' | 'epoch';
const KINDS: readonly FileKind[] = ['exclusive', 'shared', 'task-owned', 'metadata', 'epoch'];

export type CorruptReason =
  | 'missing'
  | 'truncated'
  | 'trailing-bytes'
  | 'bad-magic'
  | 'unsupported-version'
  | 'bad-header'
  | 'checksum'
  | 'wrong-job'
  | 'wrong-checkpoint'
  | 'wrong-kind'
  | 'size-mismatch'
  | 'digest-mismatch'
  | 'bad-metadata'
  | 'bad-body';

export interface FileHeader {
  readonly kind: FileKind;
  readonly jobId: string;
  readonly checkpointId: number;
  readonly epoch: number;
}

export interface DecodedFile {
  readonly header: FileHeader;
  readonly body: Buffer;
  /** Hex sha256 of header and body: the file's identity. */
  readonly sha256: string;
}

/** What the reader already knows about the file; each given field must match. */
export interface FileExpectation {
  readonly kind?: FileKind;
  readonly jobId?: string;
  readonly checkpointId?: number;
  readonly sha256?: string;
  readonly bytes?: number;
}

/**
 * The error for a checkpoint file that fails (invariant 2). `cause` is what was thrown underneath,
 * if anything; a TroupeError cause is named by its code (e.g. TROUPE_CODEC_CORRUPT).
 */
export function corruptFile(file: string, reason: CorruptReason, what: string, cause?: unknown): TroupeError {
  return new TroupeError('TROUPE_CHECKPOINT_CORRUPT', `checkpoint file ${file}: ${what}`, {
    details: { file, reason },
    ...(cause !== undefined ? { cause: { ...causeOf(cause), ...(cause instanceof TroupeError ? { name: cause.code } : {}) } } : {}),
  });
}

export function encodeFile(header: FileHeader, body: Uint8Array): { readonly bytes: Buffer; readonly sha256: string } {
  const job = Buffer.from(header.jobId, 'utf8');
  if (job.length === 0 || job.length > MAX_JOB_ID_BYTES) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `job id must have 1..${MAX_JOB_ID_BYTES} bytes`);
  if (!Number.isSafeInteger(header.checkpointId) || header.checkpointId < 0) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `checkpoint id must be a safe integer ≥ 0, got ${header.checkpointId}`);
  if (!Number.isInteger(header.epoch) || header.epoch < 0 || header.epoch > 0xffffffff) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `epoch must be an integer in 0..2^32-1, got ${header.epoch}`);
  const bytes = Buffer.allocUnsafe(FIXED + job.length + DIGEST + body.length);
  bytes.write(FILE_MAGIC, 0, 'latin1');
  bytes.writeUInt16BE(FORMAT_VERSION, 8);
  bytes.writeUInt8(KINDS.indexOf(header.kind) + 1, 10);
  bytes.writeUInt8(0, 11);
  bytes.writeUInt32BE(header.epoch, 12);
  bytes.writeBigUInt64BE(BigInt(header.checkpointId), 16);
  bytes.writeBigUInt64BE(BigInt(body.length), 24);
  bytes.writeUInt16BE(job.length, 32);
  job.copy(bytes, FIXED);
  const end = FIXED + job.length;
  const digest = createHash('sha256').update(bytes.subarray(0, end)).update(body).digest();
  digest.copy(bytes, end);
  bytes.set(body, end + DIGEST);
  return { bytes, sha256: digest.toString('hex') };
}

/** Verifies and opens a file; `file` names it in errors (invariant 2). The body is a view of `input` (no copy: 32 MiB pieces). */
export function decodeFile(input: Uint8Array, file: string, expect: FileExpectation = {}): DecodedFile {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length < FIXED) {
    if (bytes.length < 8 || bytes.toString('latin1', 0, 8) === FILE_MAGIC) throw corruptFile(file, 'truncated', `${bytes.length} bytes, shorter than a header`);
  }
  if (bytes.toString('latin1', 0, 8) !== FILE_MAGIC) throw corruptFile(file, 'bad-magic', 'is not a checkpoint file (bad magic)');
  const version = bytes.readUInt16BE(8);
  if (version !== FORMAT_VERSION) throw corruptFile(file, 'unsupported-version', `format version ${version}, this build reads ${FORMAT_VERSION}`);
  const jobLength = bytes.readUInt16BE(32);
  const end = FIXED + jobLength;
  if (jobLength === 0 || jobLength > MAX_JOB_ID_BYTES) throw corruptFile(file, 'bad-header', `job id length ${jobLength}`);
  if (bytes.length < end + DIGEST) throw corruptFile(file, 'truncated', `${bytes.length} bytes, shorter than its header`);
  const bodyLength = bytes.readBigUInt64BE(24);
  const actual = BigInt(bytes.length - end - DIGEST);
  if (actual < bodyLength) throw corruptFile(file, 'truncated', `body has ${actual} of ${bodyLength} bytes`);
  if (actual > bodyLength) throw corruptFile(file, 'trailing-bytes', `${actual - bodyLength} bytes after the body`);
  const body = bytes.subarray(end + DIGEST);
  const digest = createHash('sha256').update(bytes.subarray(0, end)).update(body).digest();
  if (!digest.equals(bytes.subarray(end, end + DIGEST))) throw corruptFile(file, 'checksum', 'checksum mismatch (bit flip or partial write)');
  const kindCode = bytes.readUInt8(10);
  const kind = KINDS[kindCode - 1];
  const checkpoint = bytes.readBigUInt64BE(16);
  if (kind === undefined || bytes.readUInt8(11) !== 0 || checkpoint > BigInt(Number.MAX_SAFE_INTEGER)) throw corruptFile(file, 'bad-header', `kind ${kindCode}, checkpoint ${checkpoint}`);
  const header: FileHeader = { kind, jobId: bytes.toString('utf8', FIXED, end), checkpointId: Number(checkpoint), epoch: bytes.readUInt32BE(12) };
  const sha256 = digest.toString('hex');
  if (expect.jobId !== undefined && header.jobId !== expect.jobId) throw corruptFile(file, 'wrong-job', `belongs to job ${header.jobId}, expected ${expect.jobId}`);
  if (expect.checkpointId !== undefined && header.checkpointId !== expect.checkpointId) throw corruptFile(file, 'wrong-checkpoint', `belongs to checkpoint ${header.checkpointId}, expected ${expect.checkpointId}`);
  if (expect.kind !== undefined && header.kind !== expect.kind) throw corruptFile(file, 'wrong-kind', `is a ${header.kind} file, expected ${expect.kind}`);
  if (expect.bytes !== undefined && bytes.length !== expect.bytes) throw corruptFile(file, 'size-mismatch', `${bytes.length} bytes, the handle says ${expect.bytes}`);
  if (expect.sha256 !== undefined && sha256 !== expect.sha256) throw corruptFile(file, 'digest-mismatch', 'is not the file the checkpoint references (replaced after it was written)');
  return { header, body, sha256 };
}
