#!/usr/bin/env node
/** The `troupe` command line. Exit codes: 0 success; 1 the job failed or an error; 2 bad input. */
import { TroupeError } from '../../core/errors.js';
import { agentCommand, AGENT_USAGE, cancelCommand, CANCEL_USAGE, clusterCommand, CLUSTER_USAGE, listCommand, LIST_USAGE } from './commands/cluster.js';
import { processIo, UsageError, type CommandIo } from './commands/io.js';
import { runCommand, RUN_USAGE } from './commands/run.js';
import { checkpointsCommand, CHECKPOINTS_USAGE, savepointCommand, SAVEPOINT_USAGE } from './commands/savepoint.js';

const USAGE = `usage:
  ${RUN_USAGE}
  ${CLUSTER_USAGE}
  ${LIST_USAGE}
  ${CANCEL_USAGE}
  ${SAVEPOINT_USAGE}
  ${CHECKPOINTS_USAGE}
  ${AGENT_USAGE}

Without --cluster, run starts an embedded cluster for the job. With --cluster, the job module is
bundled with its dependencies and submitted over REST (default port 8081); --collect prints the
records of the job's CollectSink as JSON lines as they arrive; --detached prints the job id and
returns. --from-savepoint starts the job from a savepoint (or a retained chk-<n> directory), also
at another parallelism; --allow-non-restored-state drops the state of operators the job no longer
has. savepoint prints the savepoint's directory once it completed; --stop cancels the job after it.
Exit code 0: finished; 1: the job failed; 2: bad input (a savepoint that is missing or does not fit
the job included).`;

const COMMANDS: Record<string, (argv: string[], io: CommandIo) => Promise<number>> = {
  run: runCommand,
  cluster: clusterCommand,
  list: listCommand,
  cancel: cancelCommand,
  savepoint: savepointCommand,
  checkpoints: checkpointsCommand,
  agent: agentCommand,
};

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    io.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    io.err(`troupe: unknown command '${command}'\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      io.err(`troupe ${command}: ${(error as Error).message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof TroupeError) {
      io.err(`troupe: ${error.code}: ${error.message}`);
      return error.spec.domain === 'user' && error.code !== 'TROUPE_USER_FUNCTION_FAILED' ? 2 : 1;
    }
    io.err(`troupe: unexpected error ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
