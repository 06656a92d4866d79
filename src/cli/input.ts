// Reading a program for any command: raw bytecode (.bin), hex text (.hex), assembler text (.s) — chosen by
// extension, else by sniffing the content. ELF objects are recognised and refused until the loader handles them.
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { BpfError } from '../errors.js';
import { decode, decodeHex } from '../isa/codec.js';
import type { Dialect, Program } from '../isa/insn.js';
import type { AsmSyntax } from '../isa/parse.js';
import { parse } from '../isa/parse.js';
import { assertValid } from '../isa/validate.js';
import { readInput } from './io.js';

export type InputSource = 'bin' | 'hex' | 's';

export interface ReadProgramOptions {
  /** Dialect the program is validated in (default 'standard'). */
  readonly dialect?: Dialect;
  /** Assembler syntax for text input (default 'kernel'). */
  readonly syntax?: AsmSyntax;
  /** Validate the program (default true): a BpfError lists every problem. */
  readonly validate?: boolean;
}

export interface ProgramInput {
  readonly prog: Program;
  readonly source: InputSource;
  readonly path: string;
  /** For NAME.bin: NAME.json beside it (the corpus sidecar / ENV.json format), when it exists. */
  readonly sidecarPath?: string;
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
  if (isElf(bytes)) {
    // The ELF loader (src/loader) will plug in here.
    throw new BpfError({ message: `${path}: ELF objects are not supported yet` });
  }
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
  let prog: Program;
  if (source === 'bin') prog = decode(bytes);
  else if (source === 'hex') prog = decodeHex(Buffer.from(bytes).toString('latin1'));
  else prog = parse(Buffer.from(bytes).toString('utf8'), { syntax: opts.syntax ?? 'kernel' });
  if (opts.validate ?? true) assertValid(prog, opts.dialect ?? 'standard');
  const sidecar = source === 'bin' ? join(dirname(path), `${basename(path, extname(path))}.json`) : undefined;
  return sidecar !== undefined && existsSync(sidecar) ? { prog, source, path, sidecarPath: sidecar } : { prog, source, path };
}
