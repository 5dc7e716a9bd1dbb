/**
 * The endpoint of a process that talks to other processes: a TCP listener plus one outbound
 * connection per peer endpoint, all authenticated with the cluster secret (connection.ts).
 *
 * Invariants:
 *  1. Every message from this endpoint to a peer endpoint (tell, ask, reply, data) goes through
 *     this endpoint's single outbound connection to that peer, so messages between two endpoints
 *     stay in order. Inbound connections only receive.
 *  2. Control messages are encoded with the record codec (any Unicode, binary, bigint, ...),
 *     never JSON; data buffers carry their records already encoded (data-frame.ts).
 *  3. An ask always ends: with the reply, with its timeout, or with TROUPE_PEER_UNREACHABLE
 *     when the connection it went out on closes.
 *  4. The listener binds exactly the configured address and always authenticates peers.
 */
import net from 'node:net';
import { TroupeError, toErrorRecord, type ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';
import { decodeValue, encodeValue } from '../network/record-codec.js';
import type { DataPlaneMessage } from '../protocol/data-plane.js';
import type { ActorAddress, UntypedHandle } from '../runtime/handle.js';
import { DEFAULT_ASK_TIMEOUT_MS } from '../runtime/timeout.js';
import type { Message } from '../runtime/typed-actor.js';
import { checkListenerSecret, Connection, PendingConnections, type ConnectionOptions } from './connection.js';
import { decodeDataFrame, encodeDataFrame } from './data-frame.js';
import { LocalEndpoint } from './endpoint.js';
import type { Frame } from './frames.js';

const FRAME_TELL = 2;
const FRAME_ASK = 3;
const FRAME_REPLY = 4;
const FRAME_DATA = 5;

export interface TransportOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly maxFrameBytes: number;
  readonly connectTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly maxConnections?: number;
}

type DataHandler = (to: ExecutionAttemptId, message: DataPlaneMessage) => void;

interface Peer {
  connection: Connection | null;
  connecting: Promise<Connection> | null;
  /** Frames waiting for the connection (bounded by credits and request/reply patterns). */
  queue: [number, Uint8Array][];
}

interface PendingAsk {
  readonly peer: string;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

export class TransportEndpoint extends LocalEndpoint {
  private readonly peers = new Map<string, Peer>();
  private readonly pending = new Map<number, PendingAsk>();
  private readonly inbound = new Set<Connection>();
  private readonly pendingInbound = new PendingConnections();
  /** Every accepted socket, authenticated or not, so close() can end them all. */
  private readonly sockets = new Set<net.Socket>();
  private nextAskId = 1;
  private dataHandler: DataHandler = () => undefined;
  private closing = false;
  /** Connections closed for a protocol or authentication violation (visible to tests). */
  rejectedConnections = 0;

  private constructor(
    private readonly server: net.Server,
    id: string,
    private readonly options: TransportOptions,
  ) {
    super(id);
  }

  static async listen(options: TransportOptions): Promise<TransportEndpoint> {
    checkListenerSecret(options.secret, options.host);
    const server = net.createServer({ noDelay: true });
    server.maxConnections = options.maxConnections ?? 1024;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as net.AddressInfo).port;
    const endpoint = new TransportEndpoint(server, `${options.host}:${port}`, options);
    server.on('connection', (socket) => endpoint.accept(socket));
    server.on('error', (error) => console.error(`[troupe] transport listener ${endpoint.id}:`, error.message));
    return endpoint;
  }

  get host(): string {
    return this.options.host;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  onData(handler: DataHandler): void {
    this.dataHandler = handler;
  }

  protected override remoteRef(address: ActorAddress, label: string): UntypedHandle {
    return new RemoteHandle(this, address, label);
  }

  override sendData(endpoint: string, to: ExecutionAttemptId, message: DataPlaneMessage): void {
    this.send(endpoint, FRAME_DATA, encodeDataFrame(to, message));
  }

  /** @internal RemoteHandle */
  tellRemote(address: ActorAddress, message: Message): void {
    this.send(address.endpoint, FRAME_TELL, encodeValue({ to: address.name, message }, this.options.maxFrameBytes));
  }

  /** @internal RemoteHandle */
  askRemote(address: ActorAddress, message: Message, timeoutMs: number, label: string): Promise<unknown> {
    const id = this.nextAskId++;
    let payload: Buffer;
    try {
      payload = encodeValue({ id, from: this.id, to: address.name, message, timeoutMs }, this.options.maxFrameBytes);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TroupeError('TROUPE_INTERNAL_ERROR', String(error)));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TroupeError('TROUPE_REQUEST_TIMEOUT', `${label} did not answer '${message.type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { peer: address.endpoint, resolve, reject, timer });
      this.send(address.endpoint, FRAME_ASK, payload);
    });
  }

  override async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const [, p] of this.peers) p.connection?.close();
    for (const c of this.inbound) c.close();
    for (const s of this.sockets) s.destroy();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new TroupeError('TROUPE_CLUSTER_SHUT_DOWN', `endpoint ${this.id} closed`));
      this.pending.delete(id);
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await super.close();
  }

  private connectionOptions(): ConnectionOptions {
    return { secret: this.options.secret, maxFrameBytes: this.options.maxFrameBytes, handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? 5_000 };
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    Connection.server(
      socket,
      { ...this.connectionOptions(), pending: this.pendingInbound },
      (conn) => {
        if (this.closing) {
          conn.close();
          return;
        }
        this.inbound.add(conn);
        conn.listen(
          (frame) => this.onFrame(frame),
          (error) => {
            this.inbound.delete(conn);
            if (error !== null) this.rejectedConnections++;
          },
        );
      },
      () => this.rejectedConnections++,
    );
  }

  private send(endpoint: string, kind: number, payload: Uint8Array): void {
    if (this.closing) return;
    let peer = this.peers.get(endpoint);
    if (peer === undefined) {
      peer = { connection: null, connecting: null, queue: [] };
      this.peers.set(endpoint, peer);
    }
    if (peer.connection !== null && !peer.connection.isClosed) {
      peer.connection.send(kind, payload);
      return;
    }
    peer.queue.push([kind, payload]);
    if (peer.connecting === null) this.connect(endpoint, peer);
  }

  private connect(endpoint: string, peer: Peer): void {
    const [host, portText] = splitEndpoint(endpoint);
    peer.connecting = new Promise<Connection>((resolve, reject) => {
      const socket = net.connect({ host, port: Number(portText) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TroupeError('TROUPE_PEER_UNREACHABLE', `connecting to ${endpoint} timed out`));
      }, this.options.connectTimeoutMs ?? 5_000);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new TroupeError('TROUPE_PEER_UNREACHABLE', `cannot reach ${endpoint}: ${error.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        Connection.client(socket, this.connectionOptions()).then(resolve, reject);
      });
    });
    peer.connecting.then(
      (conn) => {
        peer.connecting = null;
        if (this.closing) {
          conn.close();
          return;
        }
        peer.connection = conn;
        conn.listen(
          (frame) => this.onFrame(frame),
          (error) => this.lost(endpoint, peer, conn, error ?? new TroupeError('TROUPE_PEER_UNREACHABLE', `connection to ${endpoint} closed`)),
        );
        const queued = peer.queue;
        peer.queue = [];
        for (const [kind, payload] of queued) conn.send(kind, payload);
      },
      (error: unknown) => {
        peer.connecting = null;
        peer.queue = [];
        this.lost(endpoint, peer, null, error instanceof TroupeError ? error : new TroupeError('TROUPE_PEER_UNREACHABLE', String(error)));
      },
    );
  }

  private lost(endpoint: string, peer: Peer, conn: Connection | null, error: TroupeError): void {
    if (conn !== null && peer.connection !== conn) return;
    peer.connection = null;
    for (const [id, p] of this.pending) {
      if (p.peer !== endpoint) continue;
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(error);
    }
    if (!this.closing) for (const l of this.peerLost) l(endpoint, error);
  }

  private onFrame(frame: Frame): void {
    switch (frame.kind) {
      case FRAME_DATA: {
        const { to, message } = decodeDataFrame(frame.payload);
        this.dataHandler(to, message);
        return;
      }
      case FRAME_TELL: {
        const { to, message } = decodeValue(frame.payload) as { to: string; message: Message };
        const h = this.resolveLocal(to);
        if (h === undefined) this.dropped++;
        else h.tell(message);
        return;
      }
      case FRAME_ASK: {
        const ask = decodeValue(frame.payload) as { id: number; from: string; to: string; message: Message; timeoutMs: number };
        this.answer(ask);
        return;
      }
      case FRAME_REPLY: {
        const reply = decodeValue(frame.payload) as { id: number; ok: boolean; value?: unknown; error?: ErrorRecord };
        const p = this.pending.get(reply.id);
        if (p === undefined) return; // timed out already
        this.pending.delete(reply.id);
        clearTimeout(p.timer);
        if (reply.ok) p.resolve(reply.value);
        else p.reject(TroupeError.fromRecord(reply.error!));
        return;
      }
      default:
        throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `unknown frame kind ${frame.kind}`);
    }
  }

  private answer(ask: { id: number; from: string; to: string; message: Message; timeoutMs: number }): void {
    const h = this.resolveLocal(ask.to);
    const reply = (body: { ok: true; value: unknown } | { ok: false; error: ErrorRecord }): void => {
      let payload: Buffer;
      try {
        payload = encodeValue({ id: ask.id, ...body }, this.options.maxFrameBytes);
      } catch (error) {
        payload = encodeValue({ id: ask.id, ok: false, error: toErrorRecord(error, 'TROUPE_INTERNAL_ERROR') });
      }
      this.send(ask.from, FRAME_REPLY, payload);
    };
    if (h === undefined) {
      reply({ ok: false, error: { code: 'TROUPE_PEER_UNREACHABLE', message: `no actor '${ask.to}' at ${this.id}` } });
      return;
    }
    h.ask(ask.message, ask.timeoutMs).then(
      (value) => reply({ ok: true, value }),
      (error: unknown) => reply({ ok: false, error: toErrorRecord(error, 'TROUPE_INTERNAL_ERROR') }),
    );
  }
}

class RemoteHandle implements UntypedHandle {
  constructor(
    private readonly endpoint: TransportEndpoint,
    private readonly address: ActorAddress,
    readonly label: string,
  ) {}

  tell(message: Message): void {
    try {
      this.endpoint.tellRemote(this.address, message);
    } catch (error) {
      console.error(`[troupe] tell '${message.type}' to ${this.label} failed:`, error);
    }
  }

  ask(message: Message, timeoutMs = DEFAULT_ASK_TIMEOUT_MS): Promise<unknown> {
    return this.endpoint.askRemote(this.address, message, timeoutMs, this.label);
  }
}

export function splitEndpoint(endpoint: string): [string, string] {
  const i = endpoint.lastIndexOf(':');
  if (i <= 0) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `endpoint '${endpoint}' is not host:port`);
  return [endpoint.slice(0, i), endpoint.slice(i + 1)];
}
