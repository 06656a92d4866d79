#!/usr/bin/env node
// Entry point of the `bpfjit` command: dispatch, --help, and the mapping of errors to exit codes.
import { BpfError, UsageError } from '../errors.js';
import { Exit } from './command.js';
import { COMMANDS } from './commands.js';

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Usage: bpfjit COMMAND [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'bpfjit COMMAND --help' for a command's options.\nExit codes: 0 ok, 1 bad input, 2 usage, 3 bpf() not permitted.`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? Exit.USAGE : Exit.OK;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    console.error(`bpfjit: unknown command '${name}'\n\n${usage()}`);
    return Exit.USAGE;
  }
  const cmd = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return Exit.OK;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bpfjit ${name}: ${e.message}\nRun 'bpfjit ${name} --help' for usage.`);
      return Exit.USAGE;
    }
    if (e instanceof BpfError) {
      console.error(e.message);
      return Exit.BAD_INPUT;
    }
    // A bug in bpfjit, not the user's input: still no raw stack trace unless asked for.
    console.error(`bpfjit ${name}: internal error: ${(e as Error).message ?? String(e)}`);
    if (process.env.BPFJIT_DEBUG) console.error((e as Error).stack);
    return 70;
  }
}

// Flush stdout before exiting so piped output is never cut.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`bpfjit: internal error: ${String(e)}`);
    process.exitCode = 70;
  },
);
