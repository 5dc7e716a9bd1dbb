/**
 * Location-transparent handles. An actor is reached through a `Handle` whatever process it lives
 * in: a local handle wraps a comedy ref, a remote handle sends frames over the transport. Handles
 * never travel in messages; `ActorAddress` (plain JSON) does, and the receiving side's endpoint
 * turns it back into a handle.
 */
import type { Message } from './typed-actor.js';

export interface ActorAddress {
  /** `local` for an embedded cluster, else the `host:port` of the owning process's endpoint. */
  readonly endpoint: string;
  /** Unique within the endpoint: `dispatcher`, `resourcemanager`, `jobmaster/<job>`, `taskexecutor/<id>`. */
  readonly name: string;
}

export interface Handle<T extends Message, A extends Message, R extends Record<A['type'], unknown>> {
  readonly label: string;
  tell(message: T): void;
  ask<K extends A['type']>(message: Extract<A, { type: K }>, timeoutMs?: number): Promise<R[K]>;
}

/** A handle with its message types erased, as registries hold them. */
export interface UntypedHandle {
  readonly label: string;
  tell(message: Message): void;
  ask(message: Message, timeoutMs?: number): Promise<unknown>;
}

export function formatAddress(a: ActorAddress): string {
  return `${a.name}@${a.endpoint}`;
}
