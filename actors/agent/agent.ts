/**
 * `troupe agent`: the per-host process that starts TaskExecutors for a ResourceManager. It
 * replaces comedy's listener, which binds every interface, authenticates nobody and evaluates
 * code sent over the wire.
 *
 * Invariants:
 *  1. It binds exactly one address (loopback by default) and refuses to start without a secret
 *     (TROUPE_INSECURE_BIND): every spawn must be authenticated, on loopback too, since other
 *     users of the host can reach loopback.
 *  2. A peer is served only after proving the shared secret (connection.ts); garbage, oversized
 *     frames and silent (half-open) connections are cut without affecting anything else.
 *  3. It runs only its own TaskExecutor program, bound to the agent's own interface; the secret
 *     reaches the child through its environment, never its command line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { isLoopback } from '../../cluster-config/cluster-config.js';
import { TroupeError, toErrorRecord } from '../../core/errors.js';
import { decodeValue, encodeValue } from '../network/record-codec.js';
import { TASK_EXECUTOR_MAIN } from '../resource-manager/process-launcher.js';
import type { TaskExecutorProcessConfig } from '../task-executor/task-executor-main.js';
import { checkListenerSecret, Connection, PendingConnections } from '../transport/connection.js';
import type { Frame } from '../transport/frames.js';
import { FRAME_AGENT_EVENT, FRAME_AGENT_REPLY, FRAME_AGENT_REQUEST, parseAgentRequest, type AgentEvent, type AgentReply, type AgentRequest } from './agent-protocol.js';

export interface AgentOptions {
  readonly bind?: string;
  readonly port?: number;
  readonly secret: string;
  readonly workDir: string;
  /** Cap on frames from ResourceManagers (requests are small). Default 64 KiB. */
  readonly maxFrameBytes?: number;
  readonly handshakeTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

interface Child {
  readonly process: ChildProcess;
  readonly owner: Connection;
}

export class Agent {
  private readonly children = new Map<string, Child>();
  private readonly connections = new Set<Connection>();
  private readonly pending = new PendingConnections();
  private closing = false;
  /** Connections cut before or after authentication for a violation. */
  rejected = 0;
  /** Connections that proved the secret. */
  authenticated = 0;

  private constructor(
    private readonly server: net.Server,
    readonly bind: string,
    private readonly options: AgentOptions,
  ) {}

  static async start(options: AgentOptions): Promise<Agent> {
    const bind = options.bind ?? '127.0.0.1';
    checkListenerSecret(options.secret, isLoopback(bind) ? `${bind} (loopback is reachable by every user of this host)` : bind);
    mkdirSync(options.workDir, { recursive: true });
    const server = net.createServer({ noDelay: true });
    server.maxConnections = 1024;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: bind, port: options.port ?? 6161, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const agent = new Agent(server, bind, options);
    server.on('connection', (socket) => agent.accept(socket));
    server.on('error', (error) => agent.log(`listener error: ${error.message}`));
    return agent;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Pids of the TaskExecutors this agent runs. */
  get pids(): number[] {
    return [...this.children.values()].map((c) => c.process.pid).filter((p): p is number => p !== undefined);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const c of this.connections) c.close();
    await Promise.allSettled([...this.children.keys()].map((id) => this.stop(id)));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private log(line: string): void {
    (this.options.log ?? ((l: string) => console.error(l)))(`[troupe agent ${this.bind}:${this.port}] ${line}`);
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    Connection.server(
      socket,
      { secret: this.options.secret, maxFrameBytes: this.options.maxFrameBytes ?? 64 * 1024, handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? 5_000, pending: this.pending },
      (conn) => {
        this.authenticated++;
        this.connections.add(conn);
        conn.listen(
          (frame) => this.onFrame(conn, frame),
          (error) => {
            this.connections.delete(conn);
            if (error !== null) {
              this.rejected++;
              this.log(`connection from ${remote} cut: ${error.message}`);
            }
          },
        );
      },
      (error) => {
        this.rejected++;
        this.log(`unauthenticated connection from ${remote} ended: ${error?.code ?? 'hang-up'}`);
      },
    );
  }

  private onFrame(conn: Connection, frame: Frame): void {
    if (frame.kind !== FRAME_AGENT_REQUEST) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `agent got frame kind ${frame.kind}`);
    const raw = decodeValue(frame.payload) as { requestId?: unknown } | null;
    const requestId = typeof raw?.requestId === 'number' ? raw.requestId : -1;
    const reply = (r: AgentReply): void => conn.send(FRAME_AGENT_REPLY, encodeValue(r));
    let request: AgentRequest;
    try {
      request = parseAgentRequest(raw);
    } catch (error) {
      reply({ requestId, ok: false, error: toErrorRecord(error, 'TROUPE_INVALID_REQUEST') });
      return;
    }
    if (request.type === 'spawn') {
      try {
        const pid = this.spawn(conn, request);
        reply({ requestId, ok: true, pid });
      } catch (error) {
        reply({ requestId, ok: false, error: toErrorRecord(error, 'TROUPE_SPAWN_FAILED') });
      }
      return;
    }
    this.stop(request.id).then(
      () => reply({ requestId, ok: true }),
      (error: unknown) => reply({ requestId, ok: false, error: toErrorRecord(error, 'TROUPE_INTERNAL_ERROR') }),
    );
  }

  private spawn(owner: Connection, r: Extract<AgentRequest, { type: 'spawn' }>): number {
    if (this.children.has(r.id)) throw new TroupeError('TROUPE_SPAWN_FAILED', `TaskExecutor ${r.id} already runs on this agent`);
    const config: TaskExecutorProcessConfig = {
      id: r.id,
      slots: r.slots,
      bind: this.bind,
      jobManager: r.jobManager,
      maxFrameBytes: r.maxFrameBytes,
      heartbeatTimeoutMs: r.heartbeatTimeoutMs,
      workDir: this.options.workDir,
    };
    const child = spawn(process.execPath, [TASK_EXECUTOR_MAIN], {
      env: { ...process.env, TROUPE_TE_CONFIG: JSON.stringify(config), TROUPE_SECRET: this.options.secret },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (child.pid === undefined) throw new TroupeError('TROUPE_SPAWN_FAILED', `TaskExecutor ${r.id} could not be started`);
    this.children.set(r.id, { process: child, owner });
    this.log(`started TaskExecutor ${r.id} (pid ${child.pid}) for ${r.jobManager}`);
    child.once('exit', (code, signal) => {
      this.children.delete(r.id);
      const event: AgentEvent = { type: 'exited', id: r.id, reason: `process ${child.pid} exited (${signal ?? `code ${code ?? '?'}`})` };
      if (!owner.isClosed) owner.send(FRAME_AGENT_EVENT, encodeValue(event));
    });
    return child.pid;
  }

  private async stop(id: string): Promise<void> {
    const c = this.children.get(id);
    if (c === undefined) return;
    const p = c.process;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }
}
