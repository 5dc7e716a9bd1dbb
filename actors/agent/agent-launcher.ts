/**
 * Remote mode: the ResourceManager asks the `troupe agent` of each configured host to start a
 * TaskExecutor there. One authenticated connection per agent; requests have timeouts.
 */
import net from 'node:net';
import { TroupeError } from '../../core/errors.js';
import { decodeValue, encodeValue } from '../network/record-codec.js';
import type { LaunchedTaskExecutor, TaskExecutorLauncher, TaskExecutorSpec } from '../resource-manager/launcher.js';
import type { ActorAddress } from '../runtime/handle.js';
import { Connection } from '../transport/connection.js';
import { FRAME_AGENT_EVENT, FRAME_AGENT_REPLY, FRAME_AGENT_REQUEST, type AgentEvent, type AgentReply, type AgentRequest } from './agent-protocol.js';

export interface AgentLauncherOptions {
  readonly secret: string;
  readonly maxFrameBytes: number;
  readonly heartbeatTimeoutMs: number;
  readonly requestTimeoutMs?: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The client side of one agent connection. */
export class AgentClient {
  private nextRequest = 1;
  private readonly pending = new Map<number, { resolve: (r: AgentReply) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }>();
  private readonly exitListeners = new Map<string, (reason: string) => void>();

  private constructor(
    private readonly connection: Connection,
    readonly address: string,
    private readonly requestTimeoutMs: number,
  ) {
    connection.listen(
      (frame) => {
        if (frame.kind === FRAME_AGENT_REPLY) {
          const reply = decodeValue(frame.payload) as AgentReply;
          const p = this.pending.get(reply.requestId);
          if (p === undefined) return;
          this.pending.delete(reply.requestId);
          clearTimeout(p.timer);
          p.resolve(reply);
        } else if (frame.kind === FRAME_AGENT_EVENT) {
          const event = decodeValue(frame.payload) as AgentEvent;
          const l = this.exitListeners.get(event.id);
          this.exitListeners.delete(event.id);
          l?.(event.reason);
        }
      },
      (error) => {
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(error ?? new TroupeError('TROUPE_PEER_UNREACHABLE', `agent ${address} closed the connection`));
        }
        this.pending.clear();
      },
    );
  }

  static async connect(host: string, port: number, secret: string, timeoutMs = 5_000): Promise<AgentClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new TroupeError('TROUPE_PEER_UNREACHABLE', `agent ${host}:${port} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (error) => {
        clearTimeout(timer);
        reject(new TroupeError('TROUPE_PEER_UNREACHABLE', `cannot reach agent ${host}:${port}: ${error.message}`));
      });
    });
    const connection = await Connection.client(socket, { secret, maxFrameBytes: 64 * 1024, handshakeTimeoutMs: timeoutMs });
    return new AgentClient(connection, `${host}:${port}`, timeoutMs * 3);
  }

  request(body: DistributiveOmit<AgentRequest, 'requestId'>): Promise<AgentReply> {
    const requestId = this.nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new TroupeError('TROUPE_REQUEST_TIMEOUT', `agent ${this.address} did not answer '${body.type}' in ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
      this.connection.send(FRAME_AGENT_REQUEST, encodeValue({ ...body, requestId }));
    });
  }

  onExit(id: string, listener: (reason: string) => void): void {
    this.exitListeners.set(id, listener);
  }

  close(): void {
    this.connection.close();
  }
}

export class AgentLauncher implements TaskExecutorLauncher {
  readonly mode = 'remote';
  private readonly agents = new Map<string, Promise<AgentClient>>();

  constructor(private readonly options: AgentLauncherOptions) {}

  async launch(spec: TaskExecutorSpec, resourceManager: ActorAddress, exited: (reason: string) => void): Promise<LaunchedTaskExecutor> {
    if (spec.host === undefined) throw new TroupeError('TROUPE_INVALID_CLUSTER_CONFIG', `TaskExecutor ${spec.id} has no agent host (remote mode)`);
    const key = `${spec.host}:${spec.agentPort ?? 6161}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = AgentClient.connect(spec.host, spec.agentPort ?? 6161, this.options.secret, this.options.requestTimeoutMs ?? 5_000);
      this.agents.set(key, agent);
      agent.catch(() => this.agents.delete(key));
    }
    const client = await agent;
    client.onExit(spec.id, exited);
    const reply = await client.request({
      type: 'spawn',
      id: spec.id,
      slots: spec.slots,
      jobManager: resourceManager.endpoint,
      maxFrameBytes: this.options.maxFrameBytes,
      heartbeatTimeoutMs: this.options.heartbeatTimeoutMs,
    });
    if (!reply.ok) throw TroupeError.fromRecord(reply.error);
    return {
      ...(reply.pid !== undefined ? { pid: reply.pid } : {}),
      stop: async () => {
        await client.request({ type: 'stop', id: spec.id }).catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    for (const a of this.agents.values()) (await a.catch(() => null))?.close();
    this.agents.clear();
  }
}
