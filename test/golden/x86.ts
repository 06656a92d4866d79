// Independent x86 tools for the golden tests: keystone (assembler) for expected bytes, capstone and
// iced-x86 (decoders) to cross-check instruction boundaries. None of them is used by src/.
import { createRequire } from 'node:module';
import { loadKeystone, Keystone, Const } from 'keystone-wasm';
import { Decoder, DecoderOptions, Formatter, FormatterSyntax } from 'iced-x86';

const require = createRequire(import.meta.url);

let ks: Keystone | undefined;
interface CsInsn {
  size: number;
  mnemonic: string;
  op_str: string;
}
interface CsDecoder {
  disasm(bytes: number[], addr: number): CsInsn[];
}
let cs: CsDecoder | undefined;

export async function initTools(): Promise<void> {
  await loadKeystone();
  ks = new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64);
  const factory = require('@alexaltea/capstone-js/dist/capstone.js') as () => Promise<{
    Capstone: new (arch: number, mode: number) => CsDecoder;
    ARCH_X86: number;
    MODE_64: number;
  }>;
  const m = await factory();
  cs = new m.Capstone(m.ARCH_X86, m.MODE_64);
}

/** Assembles Intel-syntax text (`;`-separated) with keystone at `address`. */
export function assemble(text: string, address = 0n): Uint8Array {
  if (!ks) throw new Error('initTools() first');
  if (text.trim() === '') return new Uint8Array(0);
  return ks.asm(text, { address });
}

/** Instruction lengths according to capstone. */
export function capstoneLengths(bytes: Uint8Array): number[] {
  if (!cs) throw new Error('initTools() first');
  return cs.disasm([...bytes], 0).map((i) => i.size);
}

export interface IcedInsn {
  length: number;
  text: string;
}

/** Instructions according to iced-x86 (Intel syntax). */
export function icedDecode(bytes: Uint8Array, ip = 0n): IcedInsn[] {
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  decoder.ip = ip;
  const fmt = new Formatter(FormatterSyntax.Intel);
  const out: IcedInsn[] = [];
  while (decoder.canDecode) {
    const insn = decoder.decode();
    out.push({ length: insn.length, text: fmt.format(insn) });
    insn.free();
  }
  decoder.free();
  fmt.free();
  return out;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** A readable side-by-side of expected and actual code, for failure messages. */
export function sideBySide(expected: Uint8Array, actual: Uint8Array): string {
  const e = icedDecode(expected).map((i) => i.text);
  const a = icedDecode(actual).map((i) => i.text);
  const rows = [`${'expected'.padEnd(44)}actual`];
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    const l = e[i] ?? '';
    const r = a[i] ?? '';
    rows.push(`${l.padEnd(42)}${l === r ? '  ' : '≠ '}${r}`);
  }
  rows.push(`${hex(expected).padEnd(42)}  ${hex(actual)}`);
  return rows.join('\n');
}
