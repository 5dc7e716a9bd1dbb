/**
 * A process's actor endpoint: the registry of its addressable actors and the way to every other
 * actor. `LocalEndpoint` is the embedded case (everything in this process); `TransportEndpoint`
 * adds a listener and connections to other processes.
 */
import { TroupeError } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';
import type { DataPlaneMessage } from '../protocol/data-plane.js';
import type { ActorAddress, Handle, UntypedHandle } from '../runtime/handle.js';
import type { Message } from '../runtime/typed-actor.js';

export type PeerLostListener = (endpoint: string, error: TroupeError) => void;

export class LocalEndpoint {
  private readonly actors = new Map<string, UntypedHandle>();
  protected readonly peerLost: PeerLostListener[] = [];
  /** Tells to names that are not (or no longer) registered. */
  dropped = 0;

  constructor(readonly id = 'local') {}

  register(name: string, handle: UntypedHandle): ActorAddress {
    this.actors.set(name, handle);
    return this.address(name);
  }

  unregister(name: string): void {
    this.actors.delete(name);
  }

  address(name: string): ActorAddress {
    return { endpoint: this.id, name };
  }

  resolveLocal(name: string): UntypedHandle | undefined {
    return this.actors.get(name);
  }

  ref<T extends Message, A extends Message, R extends Record<A['type'], unknown>>(address: ActorAddress, label = address.name): Handle<T, A, R> {
    if (address.endpoint === this.id) return new NamedHandle(this, address.name, label) as unknown as Handle<T, A, R>;
    return this.remoteRef(address, label) as unknown as Handle<T, A, R>;
  }

  protected remoteRef(address: ActorAddress, _label: string): UntypedHandle {
    throw new TroupeError('TROUPE_PEER_UNREACHABLE', `endpoint ${this.id} has no transport to reach ${address.name}@${address.endpoint}`);
  }

  /** Data-plane frames to tasks in other processes. */
  sendData(endpoint: string, _to: ExecutionAttemptId, _message: DataPlaneMessage): void {
    throw new TroupeError('TROUPE_PEER_UNREACHABLE', `endpoint ${this.id} has no transport to reach ${endpoint}`);
  }

  onPeerLost(listener: PeerLostListener): void {
    this.peerLost.push(listener);
  }

  async close(): Promise<void> {
    this.actors.clear();
    return Promise.resolve();
  }
}

/** A handle to an actor of this endpoint, looked up by name at each use (it may register later). */
class NamedHandle implements UntypedHandle {
  constructor(
    private readonly endpoint: LocalEndpoint,
    private readonly name: string,
    readonly label: string,
  ) {}

  tell(message: Message): void {
    const h = this.endpoint.resolveLocal(this.name);
    if (h === undefined) {
      this.endpoint.dropped++;
      return;
    }
    h.tell(message);
  }

  ask(message: Message, timeoutMs?: number): Promise<unknown> {
    const h = this.endpoint.resolveLocal(this.name);
    if (h === undefined) return Promise.reject(new TroupeError('TROUPE_PEER_UNREACHABLE', `no actor '${this.name}' at ${this.endpoint.id}`));
    return h.ask(message, timeoutMs);
  }
}
