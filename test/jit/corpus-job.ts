// Test helpers for the JIT: turn a corpus program into a JIT job, and explain a mismatch with the
// kernel's image instruction by instruction (both sides decoded with iced-x86).
import { Decoder, DecoderOptions, Formatter, FormatterSyntax } from 'iced-x86';
import { decode } from '../../src/isa/codec.js';
import type { Program } from '../../src/isa/insn.js';
import type { JitExtraOptions, JitResultEx } from '../../src/jit/index.js';
import { type CorpusProgram, hexToBytes } from '../helpers/corpus.js';

export interface CorpusJob {
  readonly prog: Program;
  readonly opts: JitExtraOptions;
  /** The kernel's image of each function. */
  readonly images: readonly Uint8Array[];
  readonly jited: string;
}

export function corpusJob(p: CorpusProgram): CorpusJob {
  const k = p.kernel();
  const bytes = hexToBytes(k.jited);
  const images: Uint8Array[] = [];
  let off = 0;
  for (const len of k.func_lens) {
    images.push(bytes.subarray(off, off + len));
    off += len;
  }
  const opts: { -readonly [K in keyof JitExtraOptions]: JitExtraOptions[K] } = {
    imageBase: k.ksyms.map((s) => BigInt(s)),
    callBase: BigInt(k.call_base),
  };
  if (k.kern_vm_start) opts.kernVmStart = BigInt(k.kern_vm_start);
  if (k.user_vm_start) opts.userVmStart = BigInt(k.user_vm_start);
  return { prog: decode(hexToBytes(k.xlated_resolved)), opts, images, jited: k.jited };
}

function disasm(bytes: Uint8Array, ip: bigint): string {
  if (bytes.length === 0) return '(nothing)';
  const d = new Decoder(64, bytes, DecoderOptions.None);
  d.ip = ip;
  const f = new Formatter(FormatterSyntax.Intel);
  const out: string[] = [];
  while (d.canDecode) {
    const ins = d.decode();
    out.push(f.format(ins));
    ins.free();
  }
  f.free();
  d.free();
  return out.join('; ');
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A readable diff: for each function, the first BPF instructions whose bytes differ. */
export function explainMismatch(job: CorpusJob, r: JitResultEx, max = 6): string {
  const lines: string[] = [];
  if (r.functions.length !== job.images.length) {
    lines.push(`function count: ours ${r.functions.length}, kernel ${job.images.length}`);
  }
  r.functions.forEach((f, fi) => {
    const kimg = job.images[fi] ?? new Uint8Array();
    if (hex(f.image) === hex(kimg)) return;
    lines.push(`function ${fi} (pc ${f.firstPc}..${f.endPc}): ours ${f.image.length} bytes, kernel ${kimg.length} bytes`);
    const prologueEnd = f.addrs[0]!;
    if (hex(f.image.subarray(0, prologueEnd)) !== hex(kimg.subarray(0, prologueEnd))) {
      lines.push(`  prologue: ours   ${disasm(f.image.subarray(0, prologueEnd), f.imageBase)}`);
      lines.push(`            kernel ${disasm(kimg.subarray(0, prologueEnd), f.imageBase)}`);
    }
    let shown = 0;
    for (let k = 0; k < f.endPc - f.firstPc && shown < max; k++) {
      const a = f.addrs[k]!;
      const b = f.addrs[k + 1]!;
      const ours = f.image.subarray(a, b);
      const theirs = kimg.subarray(a, b);
      if (hex(ours) === hex(theirs)) continue;
      const insn = job.prog.insns.find((i) => i.pc === f.firstPc + k);
      const code = insn ? `op 0x${insn.code.toString(16)} dst r${insn.dst} src r${insn.src} off ${insn.off} imm ${insn.imm}` : 'ld_imm64 2nd slot';
      lines.push(`  insn ${f.firstPc + k} (${code}) at +${a}:`);
      lines.push(`    ours   ${hex(ours)}  ${disasm(ours, f.imageBase + BigInt(a))}`);
      lines.push(`    kernel ${hex(theirs)}  ${disasm(theirs, f.imageBase + BigInt(a))}`);
      shown++;
    }
  });
  return lines.join('\n');
}
