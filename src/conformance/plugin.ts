// The plugin side of the suite's protocol: the program arrives on stdin as hex bytes separated by
// spaces (one line), the input memory as the first argument in the same form; r1 points at a copy of
// that memory, r2 holds its length. Success: r0 in hex on stdout, exit 0. Failure: the message on stdout
// (the suite reads stdout, or stderr when stdout is empty), exit 1. With --elf the program is an ELF object.
import { BpfError } from '../errors.js';
import type { ConformanceEngine } from './engine.js';

/** Hex bytes "b7 00 00 00 …" (the suite separates bytes by spaces) or one run of hex digits. */
export function parseHexBytes(text: string, what: string): Uint8Array {
  const tokens = text.trim() === '' ? [] : text.trim().split(/\s+/);
  const joined = tokens.every((t) => /^[0-9a-fA-F]{1,2}$/.test(t))
    ? tokens.map((t) => t.padStart(2, '0')).join('')
    : tokens.join('').replace(/^0x/i, '');
  const bad = joined.search(/[^0-9a-fA-F]/);
  if (bad >= 0) throw new BpfError({ byteOffset: Math.floor(bad / 2), message: `${what}: invalid hex character '${joined[bad]}'` });
  if (joined.length % 2 !== 0) throw new BpfError({ byteOffset: Math.floor(joined.length / 2), message: `${what}: odd number of hex digits` });
  return new Uint8Array(Buffer.from(joined, 'hex'));
}

export interface PluginOutput {
  readonly stdout: string;
  readonly exitCode: number;
}

export async function runPlugin(engine: ConformanceEngine, programHex: string, memHex: string, elf = false): Promise<PluginOutput> {
  let program: Uint8Array;
  let mem: Uint8Array;
  try {
    program = parseHexBytes(programHex, 'program');
    if (elf) program = (await import('./elf.js')).programFromElf(program);
    mem = parseHexBytes(memHex, 'memory');
  } catch (e) {
    if (e instanceof BpfError) return { stdout: e.message, exitCode: 1 };
    throw e;
  }
  if (program.length === 0) return { stdout: 'program: no instructions on stdin', exitCode: 1 };
  const res = await engine.run(program, mem);
  return res.ok ? { stdout: res.r0.toString(16), exitCode: 0 } : { stdout: res.error, exitCode: 1 };
}
