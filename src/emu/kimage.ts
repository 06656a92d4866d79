// src/emu — the kernel's own JIT image (a corpus kernel.json) as JitFunctions, so the engine can run it and
// compare with the kernel's results. The exception table is rebuilt from the code: every PROBE_MEM32 access
// addresses `[reg + r12*1 + disp]` (r12 = kern_vm_start); a load clears its destination on a fault.
import { Decoder, DecoderOptions, Instruction, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register } from 'iced-x86';
import type { ExEntry, JitFunction } from '../jit/types.js';

export interface KernelImageJson {
  readonly jited: string;
  readonly ksyms: readonly string[];
  readonly func_lens: readonly number[];
}

function gprNumber(reg: Register): number | null {
  if (reg >= Register.RAX && reg <= Register.R15) return reg - Register.RAX;
  if (reg >= Register.EAX && reg <= Register.R15D) return reg - Register.EAX;
  if (reg >= Register.AX && reg <= Register.R15W) return reg - Register.AX;
  if (reg >= Register.AL && reg <= Register.R15L) {
    // AL..BL, then SPL..DIL (with REX), R8L..R15L; AH..BH never appear in JIT output.
    const i = reg - Register.AL;
    return i < 4 ? i : i >= 8 ? i - 4 : null;
  }
  return null;
}

/** Exception-table entries of one image: instructions whose memory operand has r12 as index. */
export function arenaExtable(image: Uint8Array, imageBase: bigint): ExEntry[] {
  const dec = new Decoder(64, image, DecoderOptions.None);
  dec.ip = imageBase;
  const info = new InstructionInfoFactory();
  const ins = new Instruction();
  const out: ExEntry[] = [];
  try {
    while (dec.canDecode) {
      dec.decodeOut(ins);
      let memOp = -1;
      for (let i = 0; i < ins.opCount; i++) if (ins.opKind(i) === OpKind.Memory) memOp = i;
      if (memOp < 0 || ins.memoryIndex !== Register.R12) continue;
      const offset = Number(ins.ip - imageBase);
      const addrReg = gprNumber(ins.memoryBase) ?? 0;
      const off = Number(BigInt.asIntN(64, ins.memoryDisplacement));
      let clearReg: number | null = null;
      let kind: ExEntry['kind'] = 'store';
      if (ins.hasLockPrefix || ins.mnemonic === Mnemonic.Xchg) {
        kind = 'atomic';
      } else if (memOp === 1 && ins.opKind(0) === OpKind.Register) {
        kind = 'load';
        clearReg = gprNumber(ins.op0Register);
      }
      const used = info.info(ins).usedMemory();
      for (const m of used) {
        if (m.access === OpAccess.Read && kind === 'store') kind = 'load';
        m.free();
      }
      out.push({ offset, length: ins.length, clearReg, addrReg, off, pc: -1, kind });
    }
  } finally {
    ins.free();
    info.free();
    dec.free();
  }
  return out;
}

/** The images of a kernel.json as JitFunctions (no per-instruction map: faults are located by x86 address). */
export function kernelImageFunctions(k: KernelImageJson): JitFunction[] {
  const all = Buffer.from(k.jited, 'hex');
  let at = 0;
  return k.ksyms.map((sym, i) => {
    const len = k.func_lens[i] ?? all.length - at;
    const image = new Uint8Array(all.subarray(at, at + len));
    at += len;
    const imageBase = BigInt(sym);
    return { firstPc: 0, endPc: 0, imageBase, image, stackDepth: 0, addrs: new Int32Array(0), extable: arenaExtable(image, imageBase) };
  });
}
