/**
 * Transport handshake (actors/transport/handshake.ts). Invariants cited from the module header:
 *  1. done only after the peer proved the secret over this side's nonce (no replay)
 *  2. per-direction labels
 *  3. every unexpected message throws TROUPE_AUTH_FAILED and the machine stays failed
 *  4. no secret in errors
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { createHmac } from 'node:crypto';
import { ClientHandshake, HANDSHAKE_MAX_FRAME_BYTES, ServerHandshake, type HandshakeStep } from '../../actors/transport/handshake.js';
import { TroupeError } from '../../core/errors.js';
import { seededRng } from '../helpers/prng.js';

const SECRET = 'correct horse battery staple';

function deterministic(seed: number): (n: number) => Buffer {
  const rng = seededRng(seed);
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = rng.int(0, 255);
    return b;
  };
}

interface Transcript {
  readonly hello: Buffer;
  readonly challenge: Buffer;
  readonly proof: Buffer;
  readonly clientStep: HandshakeStep;
  readonly serverStep: HandshakeStep;
}

function run(client: ClientHandshake, server: ServerHandshake): Transcript {
  const hello = client.start();
  const challengeStep = server.receive(hello);
  const clientStep = client.receive(challengeStep.send!);
  const serverStep = server.receive(clientStep.send!);
  return { hello, challenge: challengeStep.send!, proof: clientStep.send!, clientStep, serverStep };
}

function authFailed(t: ExecutionContext, fn: () => unknown): TroupeError {
  return t.throws(fn, { instanceOf: TroupeError, code: 'TROUPE_AUTH_FAILED' });
}

test('handshake - the same secret on both sides completes both handshakes', (t) => {
  const client = new ClientHandshake(SECRET);
  const server = new ServerHandshake(SECRET);
  const hello = client.start();
  const challenge = server.receive(hello);
  t.false(challenge.done);
  t.true(challenge.send !== undefined);
  const proof = client.receive(challenge.send!);
  t.true(proof.done);
  t.true(proof.send !== undefined);
  const last = server.receive(proof.send!);
  t.true(last.done);
  t.is(last.send, undefined);
});

test('handshake - every message fits the pre-authentication frame cap', (t) => {
  const { hello, challenge, proof } = run(new ClientHandshake(SECRET), new ServerHandshake(SECRET));
  for (const m of [hello, challenge, proof]) t.true(m.length + 1 <= HANDSHAKE_MAX_FRAME_BYTES);
});

test('handshake - the server detects a client with the wrong secret', (t) => {
  const client = new ClientHandshake(SECRET, deterministic(1));
  const server = new ServerHandshake(SECRET, deterministic(2));
  const hello = client.start();
  const challenge = server.receive(hello).send!;
  // what a client holding another secret would answer (a real one already stops at the challenge)
  const nonceC = hello.subarray(3);
  const nonceS = challenge.subarray(3, 35);
  const wrong = createHmac('sha256', 'wrong secret').update('client').update(nonceS).update(nonceC).digest();
  const error = authFailed(t, () => server.receive(Buffer.concat([Buffer.from([0x54, 1, 3]), wrong])));
  t.regex(error.message, /client did not prove/);
});

test('handshake - a client with the wrong secret stops at the server challenge', (t) => {
  const client = new ClientHandshake('wrong secret');
  const server = new ServerHandshake(SECRET);
  authFailed(t, () => client.receive(server.receive(client.start()).send!));
});

test('handshake - the client detects a server with the wrong secret', (t) => {
  const client = new ClientHandshake(SECRET);
  const server = new ServerHandshake('not the secret');
  const challenge = server.receive(client.start()).send!;
  const error = authFailed(t, () => client.receive(challenge));
  t.regex(error.message, /server did not prove/);
});

test('handshake - a recorded client proof replayed against a new server challenge fails (invariant 1)', (t) => {
  const recorded = run(new ClientHandshake(SECRET), new ServerHandshake(SECRET));
  t.true(recorded.serverStep.done);
  // the attacker replays the recorded hello and proof to a fresh server
  const server = new ServerHandshake(SECRET);
  server.receive(recorded.hello);
  authFailed(t, () => server.receive(recorded.proof));
});

test('handshake - a recorded server challenge replayed to a new client fails (invariant 1)', (t) => {
  const recorded = run(new ClientHandshake(SECRET), new ServerHandshake(SECRET));
  const client = new ClientHandshake(SECRET);
  client.start();
  authFailed(t, () => client.receive(recorded.challenge));
});

test('handshake - a server proof reflected back as the client proof fails (invariant 2)', (t) => {
  const server = new ServerHandshake(SECRET);
  const challenge = server.receive(new ClientHandshake(SECRET).start()).send!;
  authFailed(t, () => server.receive(Buffer.concat([Buffer.from([0x54, 1, 3]), challenge.subarray(35)])));
});

test('handshake - garbage, an HTTP request, an empty and an oversized message fail with TROUPE_AUTH_FAILED', (t) => {
  const messages = [
    Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'),
    Buffer.from([0xde, 0xad, 0xbe, 0xef]),
    Buffer.alloc(0),
    Buffer.alloc(HANDSHAKE_MAX_FRAME_BYTES * 4, 0x54),
    Buffer.concat([Buffer.from([0x54, 1, 1]), Buffer.alloc(33)]), // hello one byte too long
    Buffer.concat([Buffer.from([0x54, 1, 1]), Buffer.alloc(31)]), // hello one byte too short
    Buffer.concat([Buffer.from([0x54, 2, 1]), Buffer.alloc(32)]), // unknown version
    Buffer.concat([Buffer.from([0x54, 1, 3]), Buffer.alloc(32)]), // a proof before the hello
  ];
  for (const m of messages) authFailed(t, () => new ServerHandshake(SECRET).receive(m));
  for (const m of messages) {
    const client = new ClientHandshake(SECRET);
    client.start();
    authFailed(t, () => client.receive(m));
  }
});

test('handshake - a message after done fails on both sides', (t) => {
  const client = new ClientHandshake(SECRET);
  const server = new ServerHandshake(SECRET);
  const { challenge, proof } = run(client, server);
  authFailed(t, () => client.receive(challenge));
  authFailed(t, () => server.receive(proof));
});

test('handshake - after a failure the state machine stays failed (invariant 3)', (t) => {
  const client = new ClientHandshake(SECRET);
  const server = new ServerHandshake(SECRET);
  const hello = client.start();
  authFailed(t, () => server.receive(Buffer.from('junk')));
  authFailed(t, () => server.receive(hello));
});

test('handshake - a client message before start() fails', (t) => {
  const challenge = new ServerHandshake(SECRET).receive(new ClientHandshake(SECRET).start()).send!;
  authFailed(t, () => new ClientHandshake(SECRET).receive(challenge));
});

test('handshake - no error message or detail contains the secret (invariant 4)', (t) => {
  const client = new ClientHandshake(SECRET);
  const server = new ServerHandshake('other secret');
  const error = authFailed(t, () => client.receive(server.receive(client.start()).send!));
  t.false(JSON.stringify({ message: error.message, details: error.details }).includes(SECRET));
  t.false(error.message.includes('other secret'));
});

test('handshake - an injected deterministic random makes transcripts reproducible', (t) => {
  const a = run(new ClientHandshake(SECRET, deterministic(10)), new ServerHandshake(SECRET, deterministic(20)));
  const b = run(new ClientHandshake(SECRET, deterministic(10)), new ServerHandshake(SECRET, deterministic(20)));
  t.true(a.hello.equals(b.hello));
  t.true(a.challenge.equals(b.challenge));
  t.true(a.proof.equals(b.proof));
  const c = run(new ClientHandshake(SECRET, deterministic(11)), new ServerHandshake(SECRET, deterministic(20)));
  t.false(a.hello.equals(c.hello));
  t.false(a.proof.equals(c.proof));
});

test('handshake - an empty secret is an invalid argument', (t) => {
  t.throws(() => new ClientHandshake(''), { instanceOf: TroupeError, code: 'TROUPE_INVALID_ARGUMENT' });
  t.throws(() => new ServerHandshake(''), { instanceOf: TroupeError, code: 'TROUPE_INVALID_ARGUMENT' });
});

test('handshake - calling start() twice is a protocol violation', (t) => {
  const client = new ClientHandshake(SECRET);
  client.start();
  t.throws(() => client.start(), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
});
