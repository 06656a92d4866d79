// What `run` and `dump` share: the program (any input format), its environment (--env, the .bin's
// sidecar, or the ELF object's maps and globals) and the pipeline options derived from the command line.
import { readFileSync } from 'node:fs';
import { BpfError, UsageError } from '../errors.js';
import { parseEnv, type RunEnv } from '../env.js';
import type { CompileOptions } from '../emu/pipeline.js';
import type { Program } from '../isa/insn.js';
import { parseU64, type OptionValues } from './command.js';
import { MAX_PROG_INSNS_HELP, MAX_PROG_INSNS_OPTION, maxSlotsOption, readProgram, type ProgramInput } from './input.js';

/** parseArgs declarations of the shared options. */
export const PROGRAM_INPUT_OPTIONS = {
  env: { type: 'string' },
  prog: { type: 'string' },
  dialect: { type: 'string' },
  'verifier-log': { type: 'string' },
  'kern-vm-start': { type: 'string' },
  'user-vm-start': { type: 'string' },
  ...MAX_PROG_INSNS_OPTION,
} as const;

/** Help lines of the shared options. */
export const PROGRAM_INPUT_HELP = `  --prog NAME          ELF objects: the program (function or section name)
  --env ENV.json       environment (corpus sidecar format: arena, kfuncs, prefault, ctx)
  --verifier-log FILE  the kernel's level-2 verifier log (NAME.kernel.txt): dead code is removed exactly where the
                       verifier removed it (by default the front end's own constant tracking decides)
  --kern-vm-start A    place the arena's kernel view at A (default: the arena model's choice)
  --user-vm-start A    and its user view at A (map_extra 0: the address the mmap would have chosen)
                       (kernel-xlated input carries the kernel's arena addresses: give the same ones)
  --dialect D          standard (default: run the verifier's rewrites) or kernel-xlated (already rewritten)
${MAX_PROG_INSNS_HELP}`;

export interface RunInput {
  readonly input: ProgramInput;
  readonly prog: Program;
  readonly env: RunEnv;
  readonly compile: CompileOptions;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new BpfError({ message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
  }
}

export function loadEnv(path: string | undefined): RunEnv {
  if (!path) return parseEnv({});
  const text = readText(path);
  try {
    return parseEnv(JSON.parse(text), path);
  } catch (e) {
    if (e instanceof BpfError) throw e;
    throw new BpfError({ message: `${path}: invalid JSON (${(e as Error).message})` });
  }
}

/** Instruction indices the verifier visited: the `N: (op) …` lines of its level-2 log. */
export function visitedFromLog(path: string): Set<number> {
  const visited = new Set<number>();
  for (const m of readText(path).matchAll(/^(\d+): \([0-9a-f]{2}\)/gm)) visited.add(Number(m[1]));
  if (visited.size === 0) throw new BpfError({ message: `${path}: no 'N: (op) …' lines of a verifier log` });
  return visited;
}

export function readRunInput(values: OptionValues, positionals: readonly string[]): RunInput {
  if (positionals.length !== 1) throw new UsageError('expected exactly one program');
  const dialect = (values.dialect as string | undefined) ?? 'standard';
  if (dialect !== 'standard' && dialect !== 'kernel-xlated') throw new UsageError(`--dialect: expected standard or kernel-xlated, got '${dialect}'`);
  const maxSlots = maxSlotsOption(values);
  const input = readProgram(positionals[0]!, { dialect, prog: values.prog as string | undefined, ...(maxSlots === undefined ? {} : { maxSlots }) });
  const objRun = input.object?.run;
  const envPath = values.env as string | undefined;
  const env = envPath === undefined && objRun ? objRun.env : loadEnv(envPath ?? input.sidecarPath);
  const kvs = values['kern-vm-start'] as string | undefined;
  const uvs = values['user-vm-start'] as string | undefined;
  const logPath = values['verifier-log'] as string | undefined;
  return {
    input,
    prog: objRun?.program ?? input.prog,
    env,
    compile: {
      dialect,
      env,
      maps: objRun?.maps,
      visited: logPath === undefined ? undefined : visitedFromLog(logPath),
      kernVmStart: kvs === undefined ? undefined : parseU64('kern-vm-start', kvs),
      userVmStart: uvs === undefined ? undefined : parseU64('user-vm-start', uvs),
    },
  };
}
