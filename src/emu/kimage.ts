// src/emu — the kernel's own JIT image (a corpus kernel.json) as JitFunctions, so the engine can run it and
// compare with the kernel's results. The exception table is rebuilt from the code: every PROBE_MEM32 access
// addresses `[reg + r12*1 + disp]` (r12 = kern_vm_start); a load clears its destination on a fault.
import type { Register } from 'iced-x86';
import { iced } from './iced.js';
import type { ExEntry, JitFunction } from '../jit/types.js';
import { decodeHex } from '../isa/codec.js';
import { Class, Mode, insnClass, insnMode } from '../isa/opcodes.js';

export interface KernelImageJson {
  readonly jited: string;
  readonly ksyms: readonly string[];
  readonly func_lens: readonly number[];
  /** When present, labels the entries: the image's arena accesses appear in the order of its PROBE_* insns. */
  readonly xlated_resolved?: string;
}

/** The PROBE_* instructions of an xlated program, in order: slot and whether the kernel clears a register. */
function probeInsns(xlatedHex: string): { pc: number; ldx: boolean; atomic: boolean }[] {
  const out: { pc: number; ldx: boolean; atomic: boolean }[] = [];
  for (const insn of decodeHex(xlatedHex).insns) {
    const mode = insnMode(insn.code);
    const cls = insnClass(insn.code);
    const probe =
      mode === Mode.PROBE_MEM32 ? cls === Class.LDX || cls === Class.ST || cls === Class.STX
      : mode === Mode.PROBE_MEM32SX ? cls === Class.LDX // in STX, 0xc0 is plain ATOMIC
      : mode === Mode.PROBE_ATOMIC && cls === Class.STX;
    if (probe) {
      out.push({ pc: insn.pc, ldx: cls === Class.LDX, atomic: mode === Mode.PROBE_ATOMIC });
    }
  }
  return out;
}

function gprNumber(reg: Register): number | null {
  if (reg >= iced().Register.RAX && reg <= iced().Register.R15) return reg - iced().Register.RAX;
  if (reg >= iced().Register.EAX && reg <= iced().Register.R15D) return reg - iced().Register.EAX;
  if (reg >= iced().Register.AX && reg <= iced().Register.R15W) return reg - iced().Register.AX;
  if (reg >= iced().Register.AL && reg <= iced().Register.R15L) {
    // AL..BL, then SPL..DIL (with REX), R8L..R15L; AH..BH never appear in JIT output.
    const i = reg - iced().Register.AL;
    return i < 4 ? i : i >= 8 ? i - 4 : null;
  }
  return null;
}

/** Exception-table entries of one image: instructions whose memory operand has r12 as index. */
export function arenaExtable(image: Uint8Array, imageBase: bigint): ExEntry[] {
  const dec = new (iced().Decoder)(64, image, iced().DecoderOptions.None);
  dec.ip = imageBase;
  const info = new (iced().InstructionInfoFactory)();
  const ins = new (iced().Instruction)();
  const out: ExEntry[] = [];
  try {
    while (dec.canDecode) {
      dec.decodeOut(ins);
      let memOp = -1;
      for (let i = 0; i < ins.opCount; i++) if (ins.opKind(i) === iced().OpKind.Memory) memOp = i;
      if (memOp < 0 || ins.memoryIndex !== iced().Register.R12) continue;
      const offset = Number(ins.ip - imageBase);
      const addrReg = gprNumber(ins.memoryBase) ?? 0;
      const off = Number(BigInt.asIntN(64, ins.memoryDisplacement));
      let clearReg: number | null = null;
      let kind: ExEntry['kind'] = 'store';
      if (ins.hasLockPrefix || ins.mnemonic === iced().Mnemonic.Xchg) {
        kind = 'atomic';
      } else if (memOp === 1 && ins.opKind(0) === iced().OpKind.Register) {
        kind = 'load';
        clearReg = gprNumber(ins.op0Register);
      }
      const used = info.info(ins).usedMemory();
      for (const m of used) {
        if (m.access === iced().OpAccess.Read && kind === 'store') kind = 'load';
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
  const fns = k.ksyms.map((sym, i) => {
    const len = k.func_lens[i] ?? all.length - at;
    const image = new Uint8Array(all.subarray(at, at + len));
    at += len;
    const imageBase = BigInt(sym);
    return { firstPc: 0, endPc: 0, imageBase, image, stackDepth: 0, addrs: new Int32Array(0), extable: arenaExtable(image, imageBase) };
  });
  if (!k.xlated_resolved) return fns;
  // Only LDX-class accesses clear their destination (the kernel's DONT_CLEAR for stores and atomics,
  // load_acquire included, although it is a plain mov in the image).
  const probes = probeInsns(k.xlated_resolved);
  if (probes.length !== fns.reduce((n, f) => n + f.extable.length, 0)) return fns;
  let i = 0;
  return fns.map((f) => ({
    ...f,
    extable: f.extable.map((e) => {
      const p = probes[i++]!;
      const kind: ExEntry['kind'] = p.atomic ? 'atomic' : p.ldx ? 'load' : 'store';
      return { ...e, pc: p.pc, kind, clearReg: p.ldx ? e.clearReg : null };
    }),
  }));
}
