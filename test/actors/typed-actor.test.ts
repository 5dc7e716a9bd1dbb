import test from 'ava';
import * as comedy from 'comedy';
import type { ActorSystem } from 'comedy';
import { TroupeError } from '../../core/errors.js';
import { ActorHandle, ActorShell, type AskHandlers, type TellHandlers } from '../../actors/runtime/typed-actor.js';

type Tell = { type: 'append'; value: number; delayMs: number };
type Ask = { type: 'log' } | { type: 'hang' } | { type: 'fail' };
interface Replies {
  log: number[];
  hang: never;
  fail: never;
}

class Recorder extends ActorShell<undefined, Tell, Ask, Replies> {
  private readonly seen: number[] = [];
  protected readonly tells: TellHandlers<Tell> = {
    append: async ({ value, delayMs }) => {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      this.seen.push(value);
    },
  };
  protected readonly asks: AskHandlers<Ask, Replies> = {
    log: () => [...this.seen],
    hang: () => new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('too late')), 300)),
    fail: () => {
      throw new TroupeError('TROUPE_JOB_NOT_FOUND', 'no such job');
    },
  };
}

async function withActor(run: (h: ActorHandle<Tell, Ask, Replies>) => Promise<void>): Promise<void> {
  const system: ActorSystem = comedy.createSystem({ test: true, config: {} });
  try {
    const root = await system.rootActor();
    const ref = await root.createChild(Recorder, { mode: 'in-memory' });
    await run(new ActorHandle<Tell, Ask, Replies>(ref, 'recorder'));
  } finally {
    await system.destroy();
  }
}

test('typed actor - async tell handlers run one at a time in send order (own mailbox)', async (t) => {
  await withActor(async (h) => {
    h.tell({ type: 'append', value: 1, delayMs: 30 });
    h.tell({ type: 'append', value: 2, delayMs: 0 });
    h.tell({ type: 'append', value: 3, delayMs: 10 });
    // comedy does not order an ask after tells; wait until all three ran, then check their order
    let log: number[] = [];
    for (let i = 0; i < 200 && log.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 5));
      log = [...(await h.ask({ type: 'log' }))];
    }
    t.deepEqual(log, [1, 2, 3]);
  });
});

test('typed actor - a request not answered in time fails with TROUPE_REQUEST_TIMEOUT', async (t) => {
  await withActor(async (h) => {
    const error = await t.throwsAsync(h.ask({ type: 'hang' }, 50), { instanceOf: TroupeError });
    t.is(error.code, 'TROUPE_REQUEST_TIMEOUT');
    t.regex(error.message, /recorder 'hang'.*50 ms/);
  });
});

test('typed actor - a coded error in a handler reaches the caller with its code', async (t) => {
  await withActor(async (h) => {
    const error = await t.throwsAsync(h.ask({ type: 'fail' }), { instanceOf: TroupeError });
    t.is(error.code, 'TROUPE_JOB_NOT_FOUND');
  });
});

test('typed actor - an unknown request type is a protocol violation, and the actor keeps working', async (t) => {
  await withActor(async (h) => {
    const error = await t.throwsAsync(h.ask({ type: 'nonsense' } as unknown as Ask), { instanceOf: TroupeError });
    t.is(error.code, 'TROUPE_PROTOCOL_VIOLATION');
    t.deepEqual(await h.ask({ type: 'log' }), []);
  });
});
