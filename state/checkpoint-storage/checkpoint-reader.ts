/**
 * Reads state files of one completed checkpoint or savepoint, verified: a restoring task gets the
 * body of exactly the file its handle pins, or TROUPE_CHECKPOINT_CORRUPT naming the file (also
 * when a body does not decode: the record codec's TROUPE_CODEC_CORRUPT becomes its cause).
 */
import { Buffer } from 'node:buffer';
import { TroupeError } from '../../core/errors.js';
import { decodeValue } from '../../actors/network/record-codec.js';
import { joinPath, type CheckpointStore } from './checkpoint-store.js';
import { corruptFile, decodeFile } from './file-format.js';
import { handleProblem, type StateFileHandle } from './checkpoint-metadata.js';

export class CheckpointReader {
  /**
   * @param base the directory the handles are relative to (`CompletedCheckpoint.base`)
   * @param jobId the job that wrote the files (`CompletedCheckpoint.jobId`; for a savepoint, the
   *   job it was taken from, not the job restoring it)
   */
  constructor(
    readonly store: CheckpointStore,
    readonly base: string,
    readonly jobId: string,
  ) {}

  /** The body of the file, after checking it is the file the handle pins. */
  async read(handle: StateFileHandle): Promise<Buffer> {
    const problem = handleProblem(handle);
    if (problem !== null) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `state handle: ${problem}`);
    const path = joinPath(this.base, handle.path);
    const file = this.store.locate(path);
    const bytes = await this.store.get(path);
    if (bytes === undefined) throw corruptFile(file, 'missing', 'is missing');
    return decodeFile(bytes, file, { jobId: this.jobId, checkpointId: handle.checkpointId, kind: handle.scope, bytes: handle.bytes, sha256: handle.sha256 }).body;
  }

  /** A body written with `CheckpointWriter.writeValue`. */
  async readValue(handle: StateFileHandle): Promise<unknown> {
    const body = await this.read(handle);
    try {
      return decodeValue(body);
    } catch (error) {
      // the digest matched, so the writer wrote this: not a value body
      throw corruptFile(this.store.locate(joinPath(this.base, handle.path)), 'bad-body', `body is not an encoded value: ${(error as Error).message}`, error);
    }
  }

  /** Checks that every file exists with the size its handle records (cheap: no reads). */
  async checkPresent(files: readonly StateFileHandle[]): Promise<void> {
    for (const h of files) {
      const path = joinPath(this.base, h.path);
      const size = await this.store.size(path);
      if (size === undefined) throw corruptFile(this.store.locate(path), 'missing', 'is missing');
      if (size !== h.bytes) throw corruptFile(this.store.locate(path), size < h.bytes ? 'truncated' : 'size-mismatch', `${size} bytes, the checkpoint recorded ${h.bytes}`);
    }
  }

  /** Reads and verifies every file: the whole checkpoint restores, or this throws naming a file. */
  async verifyAll(files: readonly StateFileHandle[]): Promise<void> {
    for (const h of files) await this.read(h);
  }
}
