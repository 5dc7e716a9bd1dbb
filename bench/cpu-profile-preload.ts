/**
 * CPU profiles of TaskExecutor child processes. Node 20 refuses `--cpu-prof` in NODE_OPTIONS, so
 * the bench sets `NODE_OPTIONS=--require <this file>` and TROUPE_BENCH_PROFILE_DIR before starting
 * a forked cluster; the children inherit both. In a TaskExecutor process (TROUPE_TE_CONFIG set)
 * this starts the V8 sampling profiler through the inspector and writes
 * `<dir>/<TaskExecutor id>-<pid>.cpuprofile` when the process exits (the inspector answers
 * synchronously, so the exit handler can stop it). Any other process is left alone.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.TROUPE_BENCH_PROFILE_DIR;
const teConfig = process.env.TROUPE_TE_CONFIG;
if (dir !== undefined && dir !== '' && teConfig !== undefined) {
  let id = 'taskexecutor';
  try {
    const parsed = (JSON.parse(teConfig) as { id?: unknown }).id;
    if (typeof parsed === 'string') id = parsed;
  } catch {
    /* keep the default name */
  }
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: Number(process.env.TROUPE_BENCH_PROFILE_INTERVAL_US ?? 500) });
  session.post('Profiler.start');
  process.once('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error === null && result !== undefined) writeFileSync(path.join(dir, `${id}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
