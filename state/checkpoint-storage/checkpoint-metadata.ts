/**
 * State handles and the `_metadata` file of a completed checkpoint or savepoint. Handles are plain
 * JSON (they ride in checkpoint acks); their paths are relative to the checkpoint's base directory
 * (`<jobId>` for checkpoints, the savepoint directory for savepoints), so a savepoint can move.
 */
import { decodeValue, encodeValue } from '../../actors/network/record-codec.js';
import { SEGMENT } from './checkpoint-store.js';
import { corruptFile, decodeFile, encodeFile, type FileExpectation } from './file-format.js';

export type StateScope = 'exclusive' | 'shared' | 'task-owned';

/** One state file, as a task acknowledges it and as the metadata lists it. */
export interface StateFileHandle {
  /** Relative to the checkpoint's base directory, '/'-separated. */
  readonly path: string;
  readonly scope: StateScope;
  /** The checkpoint whose writer produced the file (older than the referencing one for reused shared pieces). */
  readonly checkpointId: number;
  /** Size of the whole file, header included. */
  readonly bytes: number;
  /** Hex sha256 from the file's header: pins the exact file. */
  readonly sha256: string;
}

export interface CheckpointMetadata {
  readonly kind: 'checkpoint' | 'savepoint';
  readonly jobId: string;
  readonly checkpointId: number;
  /** Epoch of the JobMaster attempt that completed it. */
  readonly epoch: number;
  readonly timestamp: number;
  /** Every file the checkpoint needs; restore reads nothing else. */
  readonly files: readonly StateFileHandle[];
  /** Opaque to the storage (operator → subtask → handles, key-group ranges, offsets…): plain values only. */
  readonly state: unknown;
}

/** A checkpoint or savepoint that was finalized, with the directory its handles are relative to. */
export interface CompletedCheckpoint extends CheckpointMetadata {
  readonly base: string;
}

/** What a JobMaster hands to finalize: everything but the identity, which the storage fills in. */
export interface FinalizeInput {
  readonly timestamp: number;
  readonly files: readonly StateFileHandle[];
  readonly state?: unknown;
}

const METADATA_FORMAT = 1;
const SCOPES: readonly string[] = ['exclusive', 'shared', 'task-owned'];
const SHA256_HEX = /^[0-9a-f]{64}$/;
const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Null when `h` is a well-formed handle, else what is wrong with it. */
export function handleProblem(h: unknown): string | null {
  if (typeof h !== 'object' || h === null) return 'not an object';
  const r = h as Record<string, unknown>;
  if (typeof r.path !== 'string' || !r.path.split('/').every((s) => SEGMENT.test(s))) return `bad path ${JSON.stringify(r.path)}`;
  if (typeof r.scope !== 'string' || !SCOPES.includes(r.scope)) return `bad scope ${JSON.stringify(r.scope)}`;
  if (!isCount(r.checkpointId)) return `bad checkpoint id ${String(r.checkpointId)}`;
  if (!isCount(r.bytes)) return `bad size ${String(r.bytes)}`;
  if (typeof r.sha256 !== 'string' || !SHA256_HEX.test(r.sha256)) return 'bad sha256';
  return null;
}

export function encodeMetadata(m: CheckpointMetadata): Uint8Array {
  const body = encodeValue({
    format: METADATA_FORMAT,
    kind: m.kind,
    jobId: m.jobId,
    checkpointId: m.checkpointId,
    epoch: m.epoch,
    timestamp: m.timestamp,
    files: m.files.map((f) => ({ path: f.path, scope: f.scope, checkpointId: f.checkpointId, bytes: f.bytes, sha256: f.sha256 })),
    state: m.state,
  });
  return encodeFile({ kind: 'metadata', jobId: m.jobId, checkpointId: m.checkpointId, epoch: m.epoch }, body).bytes;
}

/** Verifies the file (file-format.ts) and the record inside it; failures name `file`. */
export function decodeMetadata(bytes: Uint8Array, file: string, expect: FileExpectation = {}): CheckpointMetadata {
  const { header, body } = decodeFile(bytes, file, { ...expect, kind: 'metadata' });
  let value: unknown;
  try {
    value = decodeValue(body);
  } catch (error) {
    throw corruptFile(file, 'bad-metadata', `metadata does not decode: ${(error as Error).message}`, error);
  }
  const bad = (what: string): never => {
    throw corruptFile(file, 'bad-metadata', `metadata ${what}`);
  };
  if (typeof value !== 'object' || value === null) return bad('is not a record');
  const r = value as Record<string, unknown>;
  if (r.format !== METADATA_FORMAT) bad(`has format ${String(r.format)}`);
  if (r.kind !== 'checkpoint' && r.kind !== 'savepoint') bad(`has kind ${String(r.kind)}`);
  if (r.jobId !== header.jobId || r.checkpointId !== header.checkpointId || r.epoch !== header.epoch) bad('disagrees with its header');
  if (typeof r.timestamp !== 'number' || !Number.isFinite(r.timestamp)) bad('has no timestamp');
  if (!Array.isArray(r.files)) return bad('has no file list');
  r.files.forEach((h: unknown, i) => {
    const problem = handleProblem(h);
    if (problem !== null) bad(`file ${i}: ${problem}`);
  });
  return {
    kind: r.kind as CheckpointMetadata['kind'],
    jobId: header.jobId,
    checkpointId: header.checkpointId,
    epoch: header.epoch,
    timestamp: r.timestamp as number,
    files: r.files as StateFileHandle[],
    state: r.state,
  };
}
