/** HeapKeyedStateBackend with trackChanges off (every checkpoint full): no per-key sets, captures are full images. */
import test from 'ava';
import { HeapKeyedStateBackend } from '../../state/heap/heap-keyed-state-backend.js';

test('heap trackChanges off - capture(false) answers with a full image each time, with every key', async (t) => {
  const b = new HeapKeyedStateBackend(128, { start: 0, end: 127 }, { trackChanges: false });
  const count = b.getValueState<number>({ name: 'n' });
  for (let k = 0; k < 50; k++) {
    b.setCurrentKey(k);
    count.update(k);
  }
  const first = b.capture(false);
  t.true(first.full);
  await first.materialize();
  first.release();
  b.setCurrentKey(7);
  count.update(70);
  const second = b.capture(false);
  t.true(second.full, 'still a full image: nothing was tracked');
  const changes = await second.materialize();
  second.release();
  const entries = changes.keyGroups.flatMap((g) => g.states.flatMap((s) => s.upserts));
  t.is(entries.length, 50);
  const tracked = new HeapKeyedStateBackend(128, { start: 0, end: 127 });
  tracked.getValueState<number>({ name: 'n' });
  tracked.capture(true).release();
  t.false(tracked.capture(false).full, 'with tracking (the default) the second capture is a delta');
});
