/**
 * Byte-length framing for a TCP stream. Pure: the connection pushes socket chunks in and writes
 * encoded frames out. A frame is a 4-byte unsigned big-endian length L, then L bytes: one byte
 * `kind` and L − 1 bytes of payload.
 *
 * Invariants:
 *  1. Frames come out exactly as they went in, whatever the chunking: a header or a body may
 *     be split across any number of chunks, and one chunk may hold many frames.
 *  2. Work is linear in the bytes pushed: chunks are kept in a list, never re-concatenated
 *     while a frame is incomplete; a complete frame inside one chunk is a view of that chunk
 *     (the decoder never writes to chunks), one spanning chunks is copied exactly once.
 *  3. L is checked as soon as its 4 bytes arrive: L > maxFrameBytes throws
 *     TROUPE_FRAME_TOO_LARGE before any of the body is buffered, L = 0 (no kind byte) throws
 *     TROUPE_CODEC_CORRUPT. The cap counts L, i.e. the kind byte plus the payload.
 *  4. After a throw the decoder is dead: every later push throws the same error.
 */
import { Buffer } from 'node:buffer';
import { TroupeError } from '../../core/errors.js';

export interface Frame {
  readonly kind: number;
  readonly payload: Buffer;
}

const HEADER_BYTES = 4;
const MAX_LENGTH = 0xffffffff;
const EMPTY = Buffer.alloc(0);

/** [header (length + kind, 5 bytes), payload], so callers can writev without copying the payload. */
export function encodeFrame(kind: number, payload: Uint8Array): Buffer[] {
  if (!Number.isInteger(kind) || kind < 0 || kind > 0xff) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `frame kind must be an integer in 0..255, got ${kind}`);
  }
  const length = payload.byteLength + 1;
  if (length > MAX_LENGTH) {
    throw new TroupeError('TROUPE_FRAME_TOO_LARGE', `a frame payload of ${payload.byteLength} bytes does not fit a 32-bit length`, {
      details: { bytes: length, max: MAX_LENGTH },
    });
  }
  const header = Buffer.allocUnsafe(HEADER_BYTES + 1);
  header.writeUInt32BE(length, 0);
  header[HEADER_BYTES] = kind;
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return [header, body];
}

function checkCap(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_LENGTH) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `maxFrameBytes must be an integer in 1..${MAX_LENGTH}, got ${n}`);
  }
  return n;
}

export class FrameDecoder {
  private maxFrameBytes: number;
  /** Unconsumed chunks are chunks[first..]; bytes before `offset` of chunks[first] are consumed. */
  private chunks: Buffer[] = [];
  private first = 0;
  private offset = 0;
  private buffered = 0;
  /** L of the frame whose header has arrived, or -1. */
  private pending = -1;
  private failure: TroupeError | undefined;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = checkCap(maxFrameBytes);
  }

  /** Applies to headers that arrive from now on (raised after authentication). */
  setMaxFrameBytes(n: number): void {
    this.maxFrameBytes = checkCap(n);
  }

  /** Bytes received and not yet returned in a frame (a partial header included). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Returns every frame completed by this chunk. */
  push(chunk: Buffer): Frame[] {
    if (this.failure !== undefined) throw this.failure;
    const frames: Frame[] = [];
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    try {
      for (;;) {
        if (this.pending < 0) {
          if (this.buffered < HEADER_BYTES) break;
          this.pending = this.checkLength(this.peekLength());
        }
        if (this.buffered < HEADER_BYTES + this.pending) break;
        this.skip(HEADER_BYTES);
        const kind = this.takeByte();
        frames.push({ kind, payload: this.take(this.pending - 1) });
        this.pending = -1;
      }
    } catch (e) {
      this.failure = e instanceof TroupeError ? e : new TroupeError('TROUPE_INTERNAL_ERROR', String(e));
      this.chunks = [];
      this.first = 0;
      throw this.failure;
    }
    this.compact();
    return frames;
  }

  private checkLength(length: number): number {
    if (length === 0) throw new TroupeError('TROUPE_CODEC_CORRUPT', 'a frame header announces length 0 (a frame has at least its kind byte)');
    if (length > this.maxFrameBytes) {
      throw new TroupeError('TROUPE_FRAME_TOO_LARGE', `a frame header announces ${length} bytes; the cap is ${this.maxFrameBytes}`, {
        details: { bytes: length, max: this.maxFrameBytes },
      });
    }
    return length;
  }

  /** The big-endian length at the read position; the caller ensured 4 bytes are buffered. */
  private peekLength(): number {
    let length = 0;
    let index = this.first;
    let at = this.offset;
    for (let i = 0; i < HEADER_BYTES; i++) {
      let chunk = this.chunks[index]!;
      while (at >= chunk.length) {
        chunk = this.chunks[++index]!;
        at = 0;
      }
      length = length * 256 + chunk[at++]!;
    }
    return length;
  }

  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const chunk = this.chunks[this.first]!;
      const left = chunk.length - this.offset;
      if (n < left) {
        this.offset += n;
        return;
      }
      n -= left;
      this.release();
    }
  }

  private takeByte(): number {
    this.buffered--;
    const chunk = this.chunks[this.first]!;
    const b = chunk[this.offset++]!;
    if (this.offset === chunk.length) this.release();
    return b;
  }

  /** n buffered bytes: a view when they lie in one chunk, else one copy. */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.buffered -= n;
    const head = this.chunks[this.first]!;
    const left = head.length - this.offset;
    if (n <= left) {
      const view = head.subarray(this.offset, this.offset + n);
      if (n === left) this.release();
      else this.offset += n;
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.first]!;
      const count = Math.min(chunk.length - this.offset, n - filled);
      chunk.copy(out, filled, this.offset, this.offset + count);
      filled += count;
      if (this.offset + count === chunk.length) this.release();
      else this.offset += count;
    }
    return out;
  }

  private release(): void {
    this.chunks[this.first] = EMPTY;
    this.first++;
    this.offset = 0;
  }

  /** Drops consumed slots once they are the majority, keeping shifts amortised O(1). */
  private compact(): void {
    if (this.first === this.chunks.length) {
      this.chunks.length = 0;
      this.first = 0;
    } else if (this.first > 64 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}
