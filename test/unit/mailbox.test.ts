/**
 * SerialMailbox (actors/runtime/mailbox.ts). Invariants cited from the module header:
 *  1. handlers run one at a time, in posting order
 *  2. a synchronous handler runs at once when the mailbox is idle
 *  3. a throwing/rejecting handler does not stop the mailbox: the error goes to the error
 *     callback (post) or to the caller (call)
 */
import test from 'ava';
import { SerialMailbox } from '../../actors/runtime/mailbox.js';
import { seededRng } from '../helpers/prng.js';

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function mailbox(): { mb: SerialMailbox; errors: unknown[] } {
  const errors: unknown[] = [];
  return { mb: new SerialMailbox((e) => errors.push(e)), errors };
}

// ---- invariant 2: sync fast path ----

test('mailbox - a synchronous post runs before post returns when idle (invariant 2)', (t) => {
  const { mb } = mailbox();
  let ran = false;
  mb.post(() => {
    ran = true;
  });
  t.true(ran);
  t.is(mb.size, 0);
});

test('mailbox - a call runs its job before call returns when idle (invariant 2)', async (t) => {
  const { mb } = mailbox();
  let ran = false;
  const p = mb.call(() => {
    ran = true;
    return 7;
  });
  t.true(ran);
  t.is(await p, 7);
});

test('mailbox - an async handler starts synchronously when idle (invariant 2)', async (t) => {
  const { mb } = mailbox();
  const log: string[] = [];
  mb.post(async () => {
    log.push('start');
    await delay(1);
    log.push('end');
  });
  t.deepEqual(log, ['start']);
  await mb.call(() => undefined);
  t.deepEqual(log, ['start', 'end']);
});

// ---- invariant 1: order ----

test('mailbox - a message posted while an async handler is pending waits for it (invariant 1)', async (t) => {
  const { mb } = mailbox();
  const log: string[] = [];
  mb.post(async () => {
    log.push('A-start');
    await delay(20);
    log.push('A-end');
  });
  mb.post(() => log.push('B'));
  t.deepEqual(log, ['A-start'], 'B must not overtake the pending async handler');
  t.is(mb.size, 1);
  await mb.call(() => undefined);
  t.deepEqual(log, ['A-start', 'A-end', 'B']);
});

test('mailbox - mixed sync and async handlers of different delays run strictly in posting order (invariant 1)', async (t) => {
  const { mb } = mailbox();
  const log: string[] = [];
  let active = 0;
  let maxActive = 0;
  const handler = (name: string, ms: number | null) => (): unknown => {
    active++;
    maxActive = Math.max(maxActive, active);
    log.push(`${name}>`);
    if (ms === null) {
      log.push(`<${name}`);
      active--;
      return undefined;
    }
    return delay(ms).then(() => {
      log.push(`<${name}`);
      active--;
    });
  };
  mb.post(handler('a', 30));
  mb.post(handler('b', null));
  const c = mb.call(handler('c', 5));
  mb.post(handler('d', null));
  mb.post(handler('e', 0));
  const f = mb.call(handler('f', null));
  await Promise.all([c, f]);
  t.deepEqual(log, ['a>', '<a', 'b>', '<b', 'c>', '<c', 'd>', '<d', 'e>', '<e', 'f>', '<f']);
  t.is(maxActive, 1, 'handlers never overlap');
});

test('mailbox - a message posted from inside a handler runs after that handler, not re-entrantly (invariant 1)', (t) => {
  const { mb } = mailbox();
  const log: string[] = [];
  mb.post(() => {
    log.push('outer-start');
    mb.post(() => log.push('inner'));
    log.push('outer-end');
  });
  t.deepEqual(log, ['outer-start', 'outer-end', 'inner']);
});

test('mailbox - a message posted from inside an async handler runs after messages already queued (invariant 1)', async (t) => {
  const { mb } = mailbox();
  const log: string[] = [];
  mb.post(async () => {
    await delay(1);
    mb.post(() => log.push('from-handler'));
  });
  mb.post(() => log.push('queued-before'));
  await delay(20);
  await mb.call(() => undefined);
  t.deepEqual(log, ['queued-before', 'from-handler']);
});

test('mailbox - thousands of randomly sync and async messages keep their order (invariant 1)', async (t) => {
  const { mb } = mailbox();
  const rng = seededRng(17);
  const seen: number[] = [];
  let active = 0;
  let overlap = false;
  const calls: Promise<unknown>[] = [];
  const N = 5_000; // beyond the queue's compaction threshold
  for (let i = 0; i < N; i++) {
    const kind = rng.int(0, 3);
    const job = (): unknown => {
      if (active !== 0) overlap = true;
      active++;
      if (kind === 0) {
        // microtask-async
        return Promise.resolve().then(() => {
          seen.push(i);
          active--;
        });
      }
      if (kind === 1 && i % 50 === 0) {
        // macrotask-async, now and then
        return new Promise<void>((resolve) =>
          setImmediate(() => {
            seen.push(i);
            active--;
            resolve();
          }),
        );
      }
      seen.push(i);
      active--;
      return i;
    };
    if (rng.chance(0.2)) calls.push(mb.call(job));
    else mb.post(job);
  }
  await Promise.all(calls);
  await mb.call(() => undefined);
  t.is(seen.length, N);
  t.true(
    seen.every((v, i) => v === i),
    'messages ran out of order',
  );
  t.false(overlap, 'two handlers ran at once');
  t.is(mb.size, 0);
});

test('mailbox - size counts messages waiting behind the running handler', async (t) => {
  const { mb } = mailbox();
  let release!: () => void;
  mb.post(() => new Promise<void>((resolve) => (release = resolve)));
  mb.post(() => undefined);
  mb.post(() => undefined);
  t.is(mb.size, 2);
  release();
  await mb.call(() => undefined);
  t.is(mb.size, 0);
});

// ---- results ----

test('mailbox - call resolves with the value an async job resolves to', async (t) => {
  const { mb } = mailbox();
  t.is(await mb.call(async () => delay(1).then(() => 'done')), 'done');
});

test('mailbox - a non-native thenable result is awaited before the next message', async (t) => {
  const { mb } = mailbox();
  const log: string[] = [];
  let resolveThen!: (v: unknown) => void;
  const thenable = {
    then(onFulfilled: (v: unknown) => void): void {
      resolveThen = onFulfilled;
    },
  };
  const p = mb.call(() => thenable);
  mb.post(() => log.push('next'));
  t.deepEqual(log, []);
  resolveThen('value');
  t.is(await p, 'value');
  t.deepEqual(log, ['next']);
});

// ---- invariant 3: errors ----

test('mailbox - a synchronous throw in a posted handler goes to the error callback (invariant 3)', (t) => {
  const { mb, errors } = mailbox();
  const boom = new Error('boom');
  mb.post(() => {
    throw boom;
  });
  t.deepEqual(errors, [boom]);
});

test('mailbox - a rejection in a posted async handler goes to the error callback (invariant 3)', async (t) => {
  const { mb, errors } = mailbox();
  const boom = new Error('async boom');
  mb.post(async () => {
    await delay(1);
    throw boom;
  });
  await mb.call(() => undefined);
  t.deepEqual(errors, [boom]);
});

test('mailbox - a throwing posted handler does not stop later messages (invariant 3)', async (t) => {
  const { mb, errors } = mailbox();
  const log: string[] = [];
  mb.post(() => {
    throw new Error('1');
  });
  mb.post(() => log.push('after sync throw'));
  mb.post(() => Promise.reject(new Error('2')));
  mb.post(() => log.push('after async reject'));
  await mb.call(() => undefined);
  t.deepEqual(log, ['after sync throw', 'after async reject']);
  t.is(errors.length, 2);
});

test('mailbox - a synchronous throw in a call rejects the call and not the error callback (invariant 3)', async (t) => {
  const { mb, errors } = mailbox();
  const boom = new Error('call boom');
  const p = mb.call(() => {
    throw boom;
  });
  const error = await t.throwsAsync(p);
  t.is(error, boom);
  t.deepEqual(errors, []);
});

test('mailbox - a rejection in an async call rejects the call and not the error callback (invariant 3)', async (t) => {
  const { mb, errors } = mailbox();
  const boom = new Error('async call boom');
  const error = await t.throwsAsync(
    mb.call(async () => {
      await delay(1);
      throw boom;
    }),
  );
  t.is(error, boom);
  t.deepEqual(errors, []);
});

test('mailbox - a failed call does not stop later calls and posts (invariant 3)', async (t) => {
  const { mb, errors } = mailbox();
  const log: string[] = [];
  const failed = mb.call(() => Promise.reject(new Error('no')));
  mb.post(() => log.push('post'));
  const ok = mb.call(() => 'yes');
  await t.throwsAsync(failed, { message: 'no' });
  t.is(await ok, 'yes');
  t.deepEqual(log, ['post']);
  t.deepEqual(errors, []);
});

test('mailbox - a non-Error thrown value reaches the error callback unchanged (invariant 3)', (t) => {
  const { mb, errors } = mailbox();
  mb.post(() => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    throw 'plain string';
  });
  t.deepEqual(errors, ['plain string']);
});
