/**
 * Typed actors over comedy's untyped `send(topic, ...args)`.
 *
 * Every Troupe actor definition extends ActorShell. comedy sees exactly two topics, `tell`
 * (one-way) and `ask` (request/reply); both carry a message that is a discriminated union on
 * `type`, and both go through the actor's serial mailbox. The handler maps are typed so that a
 * new message variant does not compile until its receiver handles it.
 */
import type { Actor, ActorRef } from 'comedy';
import { TroupeError, toErrorRecord, type ErrorRecord } from '../../core/errors.js';
import { SerialMailbox } from './mailbox.js';
import { DEFAULT_ASK_TIMEOUT_MS, withTimeout } from './timeout.js';
import type { Handle } from './handle.js';

export interface Message {
  readonly type: string;
}

export type TellHandlers<T extends Message> = {
  readonly [K in T['type']]: (message: Extract<T, { type: K }>) => void | Promise<void>;
};

export type AskHandlers<A extends Message, R extends Record<A['type'], unknown>> = {
  readonly [K in A['type']]: (message: Extract<A, { type: K }>) => R[K] | Promise<R[K]>;
};

/** A request's reply crosses the actor boundary as a record, so coded errors keep their code. */
type AskOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: ErrorRecord };

export abstract class ActorShell<P, T extends Message, A extends Message, R extends Record<A['type'], unknown>> {
  protected actor!: Actor;
  protected params!: P;
  private readonly mailbox = new SerialMailbox((error) => this.onHandlerError(error));

  protected abstract readonly tells: TellHandlers<T>;
  protected abstract readonly asks: AskHandlers<A, R>;
  /**
   * Requests that only read (or forward to another actor) and may run beside the mailbox: a
   * query must not wait behind a long handler of this actor (a JobMaster deploying), nor may
   * forwarding one hold this actor's mailbox while the other actor waits on us (deadlock).
   */
  protected readonly queries: ReadonlySet<A['type']> = new Set();

  // comedy lifecycle
  async initialize(actor: Actor): Promise<void> {
    this.actor = actor;
    this.params = actor.getCustomParameters() as P;
    await this.mailbox.call(() => this.onStart());
  }

  async destroy(): Promise<void> {
    await this.onStop();
  }

  // comedy topics
  tell(message: T): void {
    const handler = this.tells[message.type as T['type']] as ((m: T) => void | Promise<void>) | undefined;
    if (handler === undefined) {
      this.onHandlerError(new TroupeError('TROUPE_PROTOCOL_VIOLATION', `${this.constructor.name} has no handler for '${message.type}'`));
      return;
    }
    this.mailbox.post(() => handler(message));
  }

  async ask(message: A): Promise<AskOutcome> {
    const handler = this.asks[message.type as A['type']] as ((m: A) => unknown) | undefined;
    if (handler === undefined) {
      return { ok: false, error: { code: 'TROUPE_PROTOCOL_VIOLATION', message: `${this.constructor.name} has no handler for '${message.type}'` } };
    }
    try {
      if (this.queries.has(message.type)) return { ok: true, value: await handler(message) };
      return { ok: true, value: await this.mailbox.call(() => handler(message)) };
    } catch (error) {
      return { ok: false, error: toErrorRecord(error, 'TROUPE_INTERNAL_ERROR') };
    }
  }

  /**
   * Posts a message to this actor's own mailbox once comedy has finished initializing it (and so
   * every actor it creates can already send to it). Use for outward work that starts in onStart.
   */
  protected afterStart(message: T): void {
    setImmediate(() => this.tell(message));
  }

  protected onStart(): void | Promise<void> {}
  protected onStop(): void | Promise<void> {}

  /** A `tell` handler failed. Default: log; actors with a supervisor override this. */
  protected onHandlerError(error: unknown): void {
    console.error(`[troupe] ${this.constructor.name} handler failed:`, error);
  }

  /** Creates a child actor; the handle's message types come from the annotated result. */
  protected async spawn<T2 extends Message, A2 extends Message, R2 extends Record<A2['type'], unknown>>(
    definition: new () => object,
    params: unknown,
    label: string,
  ): Promise<ActorHandle<T2, A2, R2>> {
    const ref = await this.actor.createChild(definition, { mode: 'in-memory', customParameters: params });
    return new ActorHandle<T2, A2, R2>(ref, label);
  }
}

/** The sending side of a typed actor. */
export class ActorHandle<T extends Message, A extends Message, R extends Record<A['type'], unknown>> implements Handle<T, A, R> {
  constructor(
    readonly ref: ActorRef,
    readonly label: string,
  ) {}

  tell(message: T): void {
    this.ref.send('tell', message).catch((error: unknown) => {
      console.error(`[troupe] send '${message.type}' to ${this.label} failed:`, error);
    });
  }

  async ask<K extends A['type']>(message: Extract<A, { type: K }>, timeoutMs = DEFAULT_ASK_TIMEOUT_MS): Promise<R[K]> {
    const outcome = (await withTimeout(
      this.ref.sendAndReceive('ask', message) as Promise<AskOutcome>,
      timeoutMs,
      `${this.label} '${message.type}'`,
    )) ;
    if (!outcome.ok) throw TroupeError.fromRecord(outcome.error);
    return outcome.value as R[K];
  }

  destroy(): Promise<void> {
    return this.ref.destroy();
  }
}
