/** keyOfStateKey is the inverse of stateKeyOf (state/key-groups.ts), so keyed state can give its keys back. */
import test from 'ava';
import { keyGroupFor, keyOfStateKey, stateKeyOf } from '../../state/key-groups.js';
import { seededRng, type Rng } from '../helpers/prng.js';

function randomKey(rng: Rng, depth: number): unknown {
  const choice = rng.int(0, depth > 2 ? 5 : 8);
  switch (choice) {
    case 0:
      return rng.pick(['', 'a', '\u0000', '\u0000x', '"', '\\', 'n', 'D1', '1n', ',]}', '\ud800', 'héllo', '[1]', '{"a":1}']);
    case 1:
      return rng.pick([0, -0, 1, -1, 1.5, 1e21, -1e-7, Number.MAX_SAFE_INTEGER, Infinity, -Infinity, 2 ** 53]);
    case 2:
      return rng.chance(0.5);
    case 3:
      return BigInt(rng.int(-1000, 1000)) * 10n ** BigInt(rng.int(0, 30));
    case 4:
      return new Date(rng.int(-1e12, 1e12));
    case 5:
      return rng.int(-5, 5);
    case 6:
    case 7:
      return Array.from({ length: rng.int(0, 3) }, () => randomKey(rng, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(0, 3); i > 0; i--) {
        const name = rng.pick(['a', 'b', '__proto__', 'x y', '"q"', '']);
        Object.defineProperty(out, name, { value: randomKey(rng, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
  }
}

test('state keys - keyOfStateKey(stateKeyOf(k)) is a key with the same state key and key group, for 5000 random keys', (t) => {
  const seed = 20240607;
  const rng = seededRng(seed);
  for (let i = 0; i < 5000; i++) {
    const key = randomKey(rng, 0);
    const sk = stateKeyOf(key);
    const back = keyOfStateKey(sk);
    if (stateKeyOf(back) !== sk || keyGroupFor(back, 128) !== keyGroupFor(key, 128)) {
      t.fail(`seed ${seed} #${i}: ${String(sk)} decoded to ${String(stateKeyOf(back))}`);
      return;
    }
  }
  t.pass();
});

test('state keys - decoded keys equal the originals (property order aside, -0 as 0)', (t) => {
  const key = { b: [1, 'two', 3n, new Date(4)], a: { nested: true }, __proto__x: 1 };
  t.deepEqual(keyOfStateKey(stateKeyOf(key)), key);
  t.is(keyOfStateKey(stateKeyOf(-0)), 0);
  t.is(keyOfStateKey(stateKeyOf('\u0000odd')), '\u0000odd');
});

test('state keys - an own property named __proto__ survives decoding as an own property', (t) => {
  const key = JSON.parse('{"__proto__": 5}') as Record<string, unknown>;
  const back = keyOfStateKey(stateKeyOf(key)) as Record<string, unknown>;
  t.true(Object.prototype.hasOwnProperty.call(back, '__proto__'));
  t.is(Object.getPrototypeOf(back), Object.prototype);
});
