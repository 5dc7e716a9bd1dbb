/** What a CLI command writes to, so tests can capture it. */
export interface CommandIo {
  out(line: string): void;
  err(line: string): void;
}

export const processIo: CommandIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/** Bad command-line usage: exit code 2 with the usage text. */
export class UsageError extends Error {}

export const DEFAULT_CLUSTER = '127.0.0.1:8081';
