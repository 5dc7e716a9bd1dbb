/**
 * One authenticated TCP connection of the transport (our replacement for comedy's socket).
 *
 * Invariants:
 *  1. Frames are delimited by byte length (frames.ts), never by string length.
 *  2. Before authentication only handshake frames of at most HANDSHAKE_MAX_FRAME_BYTES are
 *     accepted; anything else, a bad proof, or no completed handshake within the handshake
 *     timeout destroys the socket. Nothing a peer sends is acted on before it proved the secret.
 *  3. The server ends the handshake with an ACCEPT frame; the client sends nothing else before
 *     it, so the server has raised its frame cap before the first real frame arrives.
 *  4. A frame header announcing more than `maxFrameBytes` closes the connection before the body
 *     is buffered; a socket error never escapes as an exception.
 */
import type { Socket } from 'node:net';
import { TroupeError } from '../../core/errors.js';
import { encodeFrame, FrameDecoder, type Frame } from './frames.js';
import { ClientHandshake, HANDSHAKE_MAX_FRAME_BYTES, ServerHandshake } from './handshake.js';

export const FRAME_HANDSHAKE = 0;
export const FRAME_ACCEPT = 1;

export interface ConnectionOptions {
  readonly secret: string;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs?: number;
  /** Server side: the listener's pending (unauthenticated) connections. */
  readonly pending?: PendingConnections;
}

/** The shortest secret a listener accepts. */
export const MIN_SECRET_LENGTH = 16;

export function checkListenerSecret(secret: unknown, where: string): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new TroupeError(
      'TROUPE_INSECURE_BIND',
      `refusing to listen on ${where} without a secret of at least ${MIN_SECRET_LENGTH} characters: set TROUPE_SECRET or "secret" in the cluster config`,
    );
  }
}

/**
 * Connections that have not authenticated yet, capped: when a new one would exceed the cap, the
 * oldest pending one is cut. A flood of silent sockets then cannot lock a real peer out (its
 * handshake takes two round trips; the flood would have to outpace that), where a plain
 * connection cap would refuse everyone until the handshake timeouts fire.
 */
export class PendingConnections {
  private readonly pending = new Set<Socket>();
  evicted = 0;

  constructor(private readonly max = 64) {}

  admit(socket: Socket): void {
    if (this.pending.size >= this.max) {
      const oldest = this.pending.values().next().value;
      if (oldest !== undefined) {
        this.pending.delete(oldest);
        this.evicted++;
        oldest.destroy();
      }
    }
    this.pending.add(socket);
  }

  done(socket: Socket): void {
    this.pending.delete(socket);
  }
}

export type FrameHandler = (frame: Frame) => void;
export type CloseHandler = (error: TroupeError | null) => void;

export class Connection {
  private closed = false;
  private closeError: TroupeError | null = null;
  private onFrame: FrameHandler = () => undefined;
  private onClose: CloseHandler = () => undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly decoder: FrameDecoder,
  ) {}

  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes queued in the socket's user-space write buffer. */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** Client side: resolves once the server accepted our proof (and proved itself). */
  static client(socket: Socket, options: ConnectionOptions): Promise<Connection> {
    const c = new Connection(socket, new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES));
    const hs = new ClientHandshake(options.secret);
    return new Promise<Connection>((resolve, reject) => {
      let serverDone = false;
      const timer = setTimeout(() => c.fail(new TroupeError('TROUPE_AUTH_FAILED', `handshake with ${c.remote} timed out`)), options.handshakeTimeoutMs ?? 5_000);
      c.onClose = (error) => {
        clearTimeout(timer);
        reject(error ?? new TroupeError('TROUPE_PEER_UNREACHABLE', `connection to ${c.remote} closed during the handshake`));
      };
      c.onFrame = (frame) => {
        if (frame.kind === FRAME_HANDSHAKE && !serverDone) {
          const step = hs.receive(frame.payload);
          if (step.send !== undefined) c.sendRaw(FRAME_HANDSHAKE, step.send);
          serverDone = step.done;
          return;
        }
        if (frame.kind === FRAME_ACCEPT && serverDone) {
          clearTimeout(timer);
          c.decoder.setMaxFrameBytes(options.maxFrameBytes);
          c.onFrame = () => undefined;
          c.onClose = () => undefined;
          resolve(c);
          return;
        }
        throw new TroupeError('TROUPE_AUTH_FAILED', `unexpected frame ${frame.kind} during the handshake with ${c.remote}`);
      };
      c.attach();
      c.sendRaw(FRAME_HANDSHAKE, hs.start());
    });
  }

  /**
   * Server side: `authenticated` runs once the client proved the secret; frames flow after that.
   * `rejected` runs if the connection ends before (garbage, bad proof, timeout, hang-up).
   */
  static server(socket: Socket, options: ConnectionOptions, authenticated: (c: Connection) => void, rejected: (error: TroupeError | null) => void = () => undefined): void {
    const c = new Connection(socket, new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES));
    const hs = new ServerHandshake(options.secret);
    options.pending?.admit(socket);
    const timer = setTimeout(() => c.fail(new TroupeError('TROUPE_AUTH_FAILED', `no handshake from ${c.remote} in time`)), options.handshakeTimeoutMs ?? 5_000);
    c.onClose = (error) => {
      clearTimeout(timer);
      options.pending?.done(socket);
      rejected(error);
    };
    c.onFrame = (frame) => {
      if (frame.kind !== FRAME_HANDSHAKE) throw new TroupeError('TROUPE_AUTH_FAILED', `frame ${frame.kind} from ${c.remote} before authentication`);
      const step = hs.receive(frame.payload);
      if (step.send !== undefined) c.sendRaw(FRAME_HANDSHAKE, step.send);
      if (step.done) {
        clearTimeout(timer);
        options.pending?.done(socket);
        c.decoder.setMaxFrameBytes(options.maxFrameBytes);
        c.onFrame = () => undefined;
        c.onClose = () => undefined;
        c.sendRaw(FRAME_ACCEPT, Buffer.alloc(0));
        authenticated(c);
      }
    };
    c.attach();
  }

  /** Sets the handlers of an authenticated connection. */
  listen(onFrame: FrameHandler, onClose: CloseHandler): void {
    this.onFrame = onFrame;
    this.onClose = onClose;
    if (this.closed) onClose(this.closeError);
  }

  send(kind: number, payload: Uint8Array): void {
    if (kind === FRAME_HANDSHAKE || kind === FRAME_ACCEPT) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', 'handshake frame kinds are reserved');
    this.sendRaw(kind, payload);
  }

  close(): void {
    if (this.closed) return;
    this.socket.end();
    this.finish(null);
  }

  /**
   * Frames sent in one turn of the event loop leave in one writev: the socket is corked at the
   * first frame and uncorked when the current tick's work is done. At buffer timeout 0 (a frame
   * per record, a credit per buffer) this turns many syscalls into one.
   */
  private sendRaw(kind: number, payload: Uint8Array): void {
    if (this.closed) return;
    const [header, body] = encodeFrame(kind, payload);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(header!);
    if (body !== undefined && body.length > 0) this.socket.write(body);
  }

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  private attach(): void {
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 10_000);
    this.socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      try {
        for (const frame of this.decoder.push(chunk)) {
          if (this.closed) return;
          this.onFrame(frame);
        }
      } catch (error) {
        this.fail(error instanceof TroupeError ? error : new TroupeError('TROUPE_CODEC_CORRUPT', `bad frame from ${this.remote}: ${String(error)}`));
      }
    });
    this.socket.on('error', (error) => this.fail(new TroupeError('TROUPE_PEER_UNREACHABLE', `connection ${this.remote}: ${error.message}`)));
    this.socket.on('close', () => this.finish(null));
  }

  private fail(error: TroupeError): void {
    if (this.closed) return;
    this.socket.destroy();
    this.finish(error);
  }

  private finish(error: TroupeError | null): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    this.onClose(error);
  }
}
