// src/cli — the `bpfjit` command line: argument parsing, commands, exit codes.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

/** Exit codes shared by every command. */
export const Exit = { OK: 0, BAD_INPUT: 1, USAGE: 2, NOT_PERMITTED: 3 } as const;

export interface Command {
  readonly name: string;
  /** Full text for `bpfjit NAME --help`. */
  readonly help: string;
  run(argv: readonly string[]): Promise<number> | number;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** node:util parseArgs with usage errors turned into UsageError. */
export function parseCommandArgs(
  argv: readonly string[],
  options: Options,
): { values: OptionValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: values as OptionValues, positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Parses an integer option (decimal or 0x hex, 64-bit) as a bigint. */
export function parseU64(name: string, text: string): bigint {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(text)) throw new UsageError(`--${name}: expected a number, got '${text}'`);
  const v = BigInt(text);
  if (v >= 1n << 64n) throw new UsageError(`--${name}: ${text} does not fit in 64 bits`);
  return v;
}

export function parseIntOption(name: string, text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(text)) throw new UsageError(`--${name}: expected a number, got '${text}'`);
  const v = Number(text);
  if (v < min || v > max) throw new UsageError(`--${name}: ${text} is outside ${min}..${max}`);
  return v;
}
