/**
 * Mutual shared-secret authentication of a transport connection, as two pure state machines
 * (HMAC-SHA256 challenge/response). The caller carries the messages as frame payloads.
 *
 *   client → server  hello      'T' 0x01 0x01  nonceC (32 bytes)
 *   server → client  challenge  'T' 0x01 0x02  nonceS (32)  proofS = HMAC(secret, 'server' ‖ nonceC ‖ nonceS)
 *   client → server  proof      'T' 0x01 0x03  proofC = HMAC(secret, 'client' ‖ nonceS ‖ nonceC)
 *
 * Invariants:
 *  1. A side is done only after the peer proved the secret over a nonce this side chose, so a
 *     recorded transcript cannot be replayed against a fresh nonce.
 *  2. The labels differ per direction: a proof obtained from one side never passes as the other's.
 *  3. Every message is checked for magic, version, type and exact length before its content;
 *     anything unexpected (including any message after done, or after a failure) throws
 *     TROUPE_AUTH_FAILED, and the state machine stays failed.
 *  4. Proofs are compared in constant time; no error message or detail contains the secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { TroupeError } from '../../core/errors.js';

/** Cap for frames before authentication: the largest handshake message is 67 bytes. */
export const HANDSHAKE_MAX_FRAME_BYTES = 256;

export type HandshakeStep = { readonly send?: Buffer; readonly done: boolean };

const MAGIC = 0x54;
const VERSION = 1;
const HELLO = 1;
const CHALLENGE = 2;
const PROOF = 3;
const HEAD = 3;
const NONCE_BYTES = 32;
const PROOF_BYTES = 32;
const NAMES = ['', 'hello', 'challenge', 'proof'];

type Random = (n: number) => Buffer;

function failed(reason: string): TroupeError {
  return new TroupeError('TROUPE_AUTH_FAILED', `transport handshake failed: ${reason}`, { details: { reason } });
}

function hmac(secret: string, label: string, a: Buffer, b: Buffer): Buffer {
  return createHmac('sha256', secret).update(label).update(a).update(b).digest();
}

function message(type: number, ...parts: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([MAGIC, VERSION, type]), ...parts]);
}

/** The body of `msg` after checking magic, version, type and exact length. */
function parse(msg: Buffer, type: number, bodyBytes: number): Buffer {
  if (msg.length < HEAD || msg[0] !== MAGIC) throw failed('the peer does not speak the Troupe transport protocol');
  if (msg[1] !== VERSION) throw failed(`the peer speaks protocol version ${msg[1]}, not ${VERSION}`);
  if (msg[2] !== type) throw failed(`expected a ${NAMES[type]} message, got type ${msg[2]}`);
  if (msg.length !== HEAD + bodyBytes) throw failed(`a ${NAMES[type]} message of ${msg.length} bytes, not ${HEAD + bodyBytes}`);
  return msg.subarray(HEAD);
}

function checkSecret(secret: string): void {
  if (typeof secret !== 'string' || secret.length === 0) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'the shared secret must be a non-empty string');
}

function nonce(random: Random): Buffer {
  const n = random(NONCE_BYTES);
  if (n.length !== NONCE_BYTES) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `random(${NONCE_BYTES}) returned ${n.length} bytes`);
  return Buffer.from(n);
}

const verify = (expected: Buffer, actual: Buffer): boolean => timingSafeEqual(expected, actual);

export class ClientHandshake {
  private state: 'new' | 'hello-sent' | 'done' | 'failed' = 'new';
  private nonceC: Buffer | undefined;

  constructor(
    private readonly secret: string,
    private readonly random: Random = randomBytes,
  ) {
    checkSecret(secret);
  }

  /** The hello message; call once, first. */
  start(): Buffer {
    if (this.state !== 'new') throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', 'ClientHandshake.start() called twice');
    this.nonceC = nonce(this.random);
    this.state = 'hello-sent';
    return message(HELLO, this.nonceC);
  }

  receive(msg: Buffer): HandshakeStep {
    const state = this.state;
    this.state = 'failed';
    if (state !== 'hello-sent') throw failed(state === 'done' ? 'a message after the handshake completed' : `a message in state ${state}`);
    const body = parse(msg, CHALLENGE, NONCE_BYTES + PROOF_BYTES);
    const nonceS = body.subarray(0, NONCE_BYTES);
    const nonceC = this.nonceC!;
    if (!verify(hmac(this.secret, 'server', nonceC, nonceS), body.subarray(NONCE_BYTES))) {
      throw failed('the server did not prove the shared secret');
    }
    this.state = 'done';
    return { send: message(PROOF, hmac(this.secret, 'client', nonceS, nonceC)), done: true };
  }
}

export class ServerHandshake {
  private state: 'awaiting-hello' | 'awaiting-proof' | 'done' | 'failed' = 'awaiting-hello';
  private nonceC: Buffer | undefined;
  private nonceS: Buffer | undefined;

  constructor(
    private readonly secret: string,
    private readonly random: Random = randomBytes,
  ) {
    checkSecret(secret);
  }

  receive(msg: Buffer): HandshakeStep {
    const state = this.state;
    this.state = 'failed';
    if (state === 'awaiting-hello') {
      const nonceC = Buffer.from(parse(msg, HELLO, NONCE_BYTES));
      const nonceS = nonce(this.random);
      this.nonceC = nonceC;
      this.nonceS = nonceS;
      this.state = 'awaiting-proof';
      return { send: message(CHALLENGE, nonceS, hmac(this.secret, 'server', nonceC, nonceS)), done: false };
    }
    if (state === 'awaiting-proof') {
      const proof = parse(msg, PROOF, PROOF_BYTES);
      if (!verify(hmac(this.secret, 'client', this.nonceS!, this.nonceC!), proof)) {
        throw failed('the client did not prove the shared secret');
      }
      this.state = 'done';
      return { done: true };
    }
    throw failed(state === 'done' ? 'a message after the handshake completed' : `a message in state ${state}`);
  }
}
