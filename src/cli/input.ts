// Reading a program for any command: raw bytecode (.bin), hex text (.hex), assembler text (.s) — chosen by
// extension, else by sniffing the content; ELF objects (.o, or the ELF magic) go through src/loader.
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { BpfError, UsageError } from '../errors.js';
import { decode, decodeHex, MAX_PROGRAM_SLOTS } from '../isa/codec.js';
import type { Dialect, Program } from '../isa/insn.js';
import type { AsmSyntax } from '../isa/parse.js';
import { parse } from '../isa/parse.js';
import { assertValid } from '../isa/validate.js';
import { readInput } from './io.js';
import { findProgram, loadObject, programEnv, type BpfObject, type BpfProgram, type ProgramRun } from '../loader/index.js';

export type InputSource = 'bin' | 'hex' | 's' | 'elf';

export interface ReadProgramOptions {
  /** Dialect the program is validated in (default 'standard'). */
  readonly dialect?: Dialect;
  /** Assembler syntax for text input (default 'kernel'). */
  readonly syntax?: AsmSyntax;
  /** Validate the program (default true): a BpfError lists every problem. */
  readonly validate?: boolean;
  /** ELF objects: the program to take (function or section name); required when the object has several. */
  readonly prog?: string;
  /** Largest program accepted, in 8-byte slots (default MAX_PROGRAM_SLOTS, Linux's 1 M; --max-prog-insns). */
  readonly maxSlots?: number;
}

/** parseArgs declaration and help line of the program-size limit, for every command that reads programs. */
export const MAX_PROG_INSNS_OPTION = { 'max-prog-insns': { type: 'string' } } as const;
export const MAX_PROG_INSNS_HELP = `  --max-prog-insns N   largest program accepted, in 8-byte instruction slots (default ${MAX_PROGRAM_SLOTS}, Linux's
                       limit; more is refused before it is read into memory)`;

/** The --max-prog-insns value (undefined: the default). */
export function maxSlotsOption(values: Readonly<Record<string, unknown>>): number | undefined {
  const text = values['max-prog-insns'];
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || !/^(0x[0-9a-fA-F]+|\d+)$/.test(text)) {
    throw new UsageError(`--max-prog-insns: expected a number of instruction slots, got '${String(text)}'`);
  }
  const v = Number(text);
  // A slot is 8 bytes and an Insn record far more: 2^28 slots is already 2 GiB of bytecode.
  if (v < 1 || v > 2 ** 28) throw new UsageError(`--max-prog-insns: ${text} is outside 1..${2 ** 28}`);
  return v;
}

/** Refuses a program (from text or an ELF object) larger than the limit, like decode() does for bytecode. */
export function checkProgramSize(prog: Program, maxSlots = MAX_PROGRAM_SLOTS): Program {
  if (prog.slots > maxSlots) {
    throw new BpfError({
      insn: maxSlots,
      message: `the program has ${prog.slots} slots, more than the limit of ${maxSlots} (Linux: E2BIG); raise it with --max-prog-insns`,
    });
  }
  return prog;
}

export interface ProgramInput {
  readonly prog: Program;
  readonly source: InputSource;
  readonly path: string;
  /** For NAME.bin: NAME.json beside it (the corpus sidecar / ENV.json format), when it exists. */
  readonly sidecarPath?: string;
  /** ELF objects (src/loader): the whole object, the chosen program, and its Program + RunEnv + maps. */
  readonly object?: { readonly obj: BpfObject; readonly program: BpfProgram; readonly run: ProgramRun };
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

function isText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 4096);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0 || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)) return false;
  }
  return bytes.length > 0;
}

function sourceOf(path: string, bytes: Uint8Array): InputSource {
  const ext = extname(path).toLowerCase();
  if (isElf(bytes) || ext === '.o') return 'elf';
  if (ext === '.bin') return 'bin';
  if (ext === '.hex') return 'hex';
  if (ext === '.s' || ext === '.asm' || ext === '.txt') return 's';
  if (!isText(bytes)) return 'bin';
  return /^[\s0-9a-fA-F]*$/.test(Buffer.from(bytes).toString('latin1')) ? 'hex' : 's';
}

/** Reads, decodes or assembles, and (by default) validates a program file. */
export function readProgram(path: string, opts: ReadProgramOptions = {}): ProgramInput {
  const bytes = readInput(path);
  const source = sourceOf(path, bytes);
  if (source === 'elf') {
    const obj = loadObject(bytes);
    const program = findProgram(obj, opts.prog);
    checkProgramSize(program.insns, opts.maxSlots);
    if (opts.validate ?? true) assertValid(program.insns, 'standard');
    return { prog: program.insns, source, path, object: { obj, program, run: programEnv(obj, program) } };
  }
  let prog: Program;
  const limit = opts.maxSlots === undefined ? {} : { maxSlots: opts.maxSlots };
  if (source === 'bin') prog = decode(bytes, limit);
  else if (source === 'hex') prog = decodeHex(Buffer.from(bytes).toString('latin1'), limit);
  else prog = checkProgramSize(parse(Buffer.from(bytes).toString('utf8'), { syntax: opts.syntax ?? 'kernel' }), opts.maxSlots);
  if (opts.validate ?? true) assertValid(prog, opts.dialect ?? 'standard');
  const sidecar = source === 'bin' ? join(dirname(path), `${basename(path, extname(path))}.json`) : undefined;
  return sidecar !== undefined && existsSync(sidecar) ? { prog, source, path, sidecarPath: sidecar } : { prog, source, path };
}
