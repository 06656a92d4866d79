// src/emu — which x86 instruction faulted. After an unmapped access Unicorn reports RIP as the start of the
// translation block, with registers as they were at the faulting instruction; we decode forward from there and
// pick the first instruction whose memory operand (explicit or stack) covers the faulting address.
import type * as Iced from 'iced-x86';
import type { Register } from 'iced-x86';
import { iced } from './iced.js';

/** Reads a general-purpose register by x86 number (0 = rax … 15 = r15). */
export type RegReader = (x86reg: number) => bigint;

export interface Located {
  /** Address of the faulting instruction. */
  readonly address: bigint;
  /** Intel-syntax text of it. */
  readonly text: string;
  /** False when no instruction's operand matched (the address is the block start). */
  readonly exact: boolean;
}

function gpr(reg: Register, regs: RegReader): bigint | null {
  if (reg >= iced().Register.RAX && reg <= iced().Register.R15) return regs(reg - iced().Register.RAX);
  if (reg >= iced().Register.EAX && reg <= iced().Register.R15D) return regs(reg - iced().Register.EAX) & 0xffffffffn;
  return null;
}

/**
 * Offset of the first invalid instruction of an image decoded from its start, or -1. Unicorn 2.0.1 aborts the
 * whole process on some invalid encodings (e.g. `ff e8`, a far jump with a register operand), so the engine
 * refuses such images instead of running them.
 */
export function firstInvalidInsn(code: Uint8Array): number {
  const dec = new (iced().Decoder)(64, code, iced().DecoderOptions.None);
  const ins = new (iced().Instruction)();
  try {
    while (dec.canDecode) {
      const at = dec.position;
      dec.decodeOut(ins);
      if (ins.code === 0) return at;
    }
    return -1;
  } finally {
    ins.free();
    dec.free();
  }
}

/** Disassembles one instruction (for reports). */
export function disasm(code: Uint8Array, address: bigint): string {
  const dec = new (iced().Decoder)(64, code, iced().DecoderOptions.None);
  dec.ip = address;
  const ins = dec.decode();
  const fmt = new (iced().Formatter)(iced().FormatterSyntax.Intel);
  const text = fmt.format(ins);
  ins.free();
  fmt.free();
  dec.free();
  return text;
}

interface MemOperand {
  readonly base: Register;
  readonly index: Register;
  readonly scale: number;
  readonly disp: bigint;
  readonly seg: Register;
}

/** The memory operands of an instruction as plain values; every iced object made on the way is freed. */
function usedMemory(factory: Iced.InstructionInfoFactory, ins: Iced.Instruction): MemOperand[] {
  const info = factory.info(ins);
  try {
    const used = info.usedMemory();
    const out = used.map((mem) => ({ base: mem.base, index: mem.index, scale: mem.scale, disp: mem.displacement, seg: mem.segment }));
    for (const mem of used) mem.free();
    return out;
  } finally {
    info.free();
  }
}

/**
 * `code` holds the bytes starting at `blockStart`; `gsBase` is the GS base. Looks at up to 64 instructions,
 * stopping after the first control-flow instruction (the end of a translation block).
 */
export function locateFault(code: Uint8Array, blockStart: bigint, faultAddr: bigint, regs: RegReader, gsBase: bigint): Located {
  const dec = new (iced().Decoder)(64, code, iced().DecoderOptions.None);
  dec.ip = blockStart;
  const info = new (iced().InstructionInfoFactory)();
  const fmt = new (iced().Formatter)(iced().FormatterSyntax.Intel);
  const ins = new (iced().Instruction)();
  try {
    for (let n = 0; n < 64 && dec.canDecode; n++) {
      dec.decodeOut(ins);
      if (ins.code === 0) break; // INVALID
      for (const m of usedMemory(info, ins)) {
        const base = m.base === iced().Register.RIP || m.base === iced().Register.None ? 0n : gpr(m.base, regs);
        const index = m.index === iced().Register.None ? 0n : gpr(m.index, regs);
        if (base === null || index === null) continue;
        const seg = m.seg === iced().Register.GS ? gsBase : 0n;
        const ea = BigInt.asUintN(64, BigInt.asUintN(64, m.disp) + base + index * BigInt(m.scale) + seg);
        if (faultAddr >= ea && faultAddr < ea + 64n) return { address: ins.ip, text: fmt.format(ins), exact: true };
      }
      if (ins.flowControl !== iced().FlowControl.Next) break;
    }
    return { address: blockStart, text: '', exact: false };
  } finally {
    ins.free();
    fmt.free();
    info.free();
    dec.free();
  }
}
