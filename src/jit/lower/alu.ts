// ALU and ALU64: register/immediate arithmetic, moves (incl. sign-extending moves, arena
// cast-to-user and the per-CPU address move), mul, div/mod, shifts and byte swaps.

import { insnError } from '../../errors.js';
import { AluOp, Class, MovOff, Src, insnClass, insnOp, insnSrc } from '../../isa/opcodes.js';
import type { Insn } from '../../isa/insn.js';
import { AUX, X86_OF } from '../regmap.js';
import type { Assembler } from '../x86/asm.js';
import { encImulRR, encImulRRI, encR, encRI, encRR, encShiftRI, encShiftx } from '../x86/encode.js';
import { Alu, type AluForm, Shift, ShiftX } from '../x86/opcodes.js';
import { Gpr } from '../x86/regs.js';
import { movImm32At } from './ldimm.js';
import { type FnState, byOp, unknownOpcode, xreg } from './state.js';

const SIMPLE = byOp<AluForm>([
  [AluOp.ADD, Alu.ADD],
  [AluOp.SUB, Alu.SUB],
  [AluOp.AND, Alu.AND],
  [AluOp.OR, Alu.OR],
  [AluOp.XOR, Alu.XOR],
]);
/** The same forms as typed arrays by operation nibble (register-form opcode, 0 for the other operations;
 *  /digit and short rax opcode of the immediate form): the direct lowering reads no objects. */
const SIMPLE_RM = Uint8Array.from(SIMPLE, (f) => f?.rm ?? 0);
const SIMPLE_DIGIT = Uint8Array.from(SIMPLE, (f) => f?.digit ?? 0);
const SIMPLE_RAX = Uint8Array.from(SIMPLE, (f) => f?.raxImm ?? 0);
const SHIFTS = byOp<Shift>([
  [AluOp.LSH, Shift.SHL],
  [AluOp.RSH, Shift.SHR],
  [AluOp.ARSH, Shift.SAR],
]);
const SHIFT_DIGIT = Uint8Array.from(SHIFTS, (d) => d ?? 0);
const SHIFTX = byOp<ShiftX>([
  [AluOp.LSH, ShiftX.SHLX],
  [AluOp.RSH, ShiftX.SHRX],
  [AluOp.ARSH, ShiftX.SARX],
]);
const SHIFTX_PP = Uint8Array.from(SHIFTX, (pp) => pp ?? 0);

/** mov between registers: a 64-bit self-move emits nothing, a 32-bit one is kept (it zero-extends). */
export function movReg(a: Assembler, w: boolean, dst: number, src: number): void {
  if (w && dst === src) return;
  a.mov_rr(w, dst, src);
}

export function lowerAlu(st: FnState, insn: Insn): void {
  const s = st.a.s;
  const end = lowerAluDirect(s.buf, s.pos, insn.code, insn.dst, insn.src, insn.off, insn.imm, st.prog.bmi2);
  if (end >= 0) {
    s.pos = end;
    return;
  }
  lowerAluOther(st, insn);
}

/**
 * The frequent ALU forms written straight into b at p (the first pass calls this without a cursor or the
 * assembler): add/sub/and/or/xor, mov (immediate, and plain register moves), neg, mul, shifts by an
 * immediate and, with BMI2, by a register other than rcx. Returns the end, or -1 for any other form or a
 * register that does not exist (lowerAluOther lowers or reports those).
 */
export function lowerAluDirect(b: Uint8Array, p: number, code: number, dstReg: number, srcReg: number, off: number, imm: number, bmi2: boolean): number {
  const dst = X86_OF[dstReg]!;
  const isX = (code & Src.X) !== 0;
  const src = isX ? X86_OF[srcReg]! : 0;
  if (dst < 0 || src < 0) return -1;
  const w = (code & 7) === Class.ALU64;
  const k = code >> 4;
  const rm = SIMPLE_RM[k]!;
  if (rm !== 0) return isX ? encRR(b, p, rm, w, src, dst) : encRI(b, p, SIMPLE_DIGIT[k]!, SIMPLE_RAX[k]!, w, dst, imm);
  switch (code & 0xf0) {
    case AluOp.MOV:
      if (!isX) return movImm32At(b, p, w, dst, imm);
      if (off !== 0) return -1; // sign-extending, per-CPU and arena casts
      return w && dst === src ? p : encRR(b, p, 0x89, w, src, dst);
    case AluOp.NEG:
      return isX ? -1 : encR(b, p, 0xf7, 3, w, dst);
    case AluOp.MUL:
      return isX ? encImulRR(b, p, w, dst, src) : encImulRRI(b, p, w, dst, dst, imm);
    case AluOp.LSH:
    case AluOp.RSH:
    case AluOp.ARSH:
      if (!isX) return encShiftRI(b, p, SHIFT_DIGIT[k]!, w, dst, imm);
      if (!bmi2 || src === Gpr.RCX) return -1;
      return encShiftx(b, p, SHIFTX_PP[k]!, w, dst, dst, src); // shlx/shrx/sarx dst, dst, src
    default:
      return -1;
  }
}

/** The ALU forms lowerAluDirect leaves: div/mod, byte swaps, sign-extending and special moves, shifts through
 *  cl, and the errors. */
function lowerAluOther(st: FnState, insn: Insn): void {
  const a = st.a;
  const w = insnClass(insn.code) === Class.ALU64;
  const op = insnOp(insn.code);
  const isX = insnSrc(insn.code) === Src.X;
  const dst = xreg(insn, insn.dst);
  // (With valid registers, lowerAluDirect has lowered every immediate mov and shift and every add/sub/and/or/xor,
  // neg and mul; what reaches here with those operations reports its register below.)
  switch (op) {
    case AluOp.MOV:
      if (isX) lowerMovX(st, insn, w, dst, xreg(insn, insn.src));
      return;
    case AluOp.DIV:
    case AluOp.MOD:
      lowerDivMod(a, insn, w, op === AluOp.MOD, dst, isX ? xreg(insn, insn.src) : -1);
      return;
    case AluOp.LSH:
    case AluOp.RSH:
    case AluOp.ARSH:
      if (isX) lowerShiftX(st, w, op, dst, xreg(insn, insn.src));
      return;
    case AluOp.ADD:
    case AluOp.SUB:
    case AluOp.AND:
    case AluOp.OR:
    case AluOp.XOR:
    case AluOp.MUL:
      if (isX) xreg(insn, insn.src);
      throw insnError(insn.pc, 'internal error: ALU form not lowered');
    case AluOp.END:
      lowerEnd(a, insn, dst);
      return;
    default:
      unknownOpcode(insn);
  }
}

function lowerMovX(st: FnState, insn: Insn, w: boolean, dst: number, src: number): void {
  const a = st.a;
  if (w && insn.off === MovOff.ADDR_SPACE_CAST && insn.imm === 0x10000) {
    lowerCastUser(st, dst, src);
    return;
  }
  if (w && insn.off === MovOff.PERCPU) {
    // mov dst, src (if needed); add dst, gs:[this_cpu_off]
    movReg(a, true, dst, src);
    a.add_gs_disp32_kernel(dst, st.prog.thisCpuOff);
    return;
  }
  if (insn.off === 0) {
    movReg(a, w, dst, src);
    return;
  }
  // movsx; other offsets (the verifier never leaves them) emit nothing, as in the kernel.
  const bits = insn.off;
  if (bits === 8 || bits === 16 || (bits === 32 && w)) a.movsx_rr(w, bits, dst, src, !w && bits === 8);
}

/*
 * Cast to user (addr_space_cast(dst, 1, 0)): keep NULL, else merge the upper half of user_vm_start.
 *   mov   dst32, src32           ; only when dst != src
 *   shl   dst, 32
 *   or    dst, user_vm_start >> 32
 *   rol   dst, 32
 *   xor   r11, r11
 *   test  dst32, dst32
 *   cmove dst, r11
 */
function lowerCastUser(st: FnState, dst: number, src: number): void {
  const a = st.a;
  if (dst !== src) a.mov_rr(false, dst, src);
  a.shift_ri(Shift.SHL, true, dst, 32);
  a.alu_ri32(Alu.OR, true, dst, st.prog.userVmHi);
  a.shift_ri(Shift.ROL, true, dst, 32);
  a.alu_rr(Alu.XOR, true, AUX, AUX);
  a.test_rr(false, dst, dst);
  a.cmove_rr(true, dst, AUX);
}

/*
 * div/mod: x86 divides rdx:rax, so both are saved unless they are the destination.
 *   push rax; push rdx            ; unless dst is rax / rdx
 *   mov  r11, src | imm32         ; a divisor in rax/rdx, or an immediate, goes through r11
 *   mov  rax, dst
 *   xor  edx, edx; div src        | cdq/cqo; idiv src     (off != 0: signed)
 *   mov  dst, rax | rdx
 *   pop  rdx; pop rax
 * The verifier has already guarded against zero and -1 divisors.
 */
function lowerDivMod(a: Assembler, insn: Insn, w: boolean, isMod: boolean, dst: number, srcReg: number): void {
  let src = srcReg;
  if (dst !== Gpr.RAX) a.push(Gpr.RAX);
  if (dst !== Gpr.RDX) a.push(Gpr.RDX);
  if (src >= 0) {
    if (src === Gpr.RAX || src === Gpr.RDX) {
      movReg(a, true, AUX, src);
      src = AUX;
    }
  } else {
    a.movq_ri32(AUX, insn.imm);
    src = AUX;
  }
  if (dst !== Gpr.RAX) a.mov_rr(w, Gpr.RAX, dst);
  if (insn.off === 0) {
    a.alu_rr(Alu.XOR, false, Gpr.RDX, Gpr.RDX);
    a.div_r(w, false, src);
  } else {
    a.cdq(w);
    a.div_r(w, true, src);
  }
  if (isMod && dst !== Gpr.RDX) a.mov_rr(w, dst, Gpr.RDX);
  else if (!isMod && dst !== Gpr.RAX) a.mov_rr(w, dst, Gpr.RAX);
  if (dst !== Gpr.RDX) a.pop(Gpr.RDX);
  if (dst !== Gpr.RAX) a.pop(Gpr.RAX);
}

/*
 * Shift by a register without BMI2, or with the count already in rcx (with BMI2 otherwise lowerAluDirect
 * writes shlx/shrx/sarx dst, dst, src). Through cl:
 *   push rcx | mov r11, rcx (dst is rcx: shift r11 instead)
 *   mov  rcx, src
 *   shl  dst, cl
 *   pop  rcx | mov rcx, r11
 */
function lowerShiftX(st: FnState, w: boolean, op: number, dstReg: number, src: number): void {
  const a = st.a;
  let dst = dstReg;
  if (src !== Gpr.RCX) {
    if (dst === Gpr.RCX) {
      movReg(a, true, AUX, dst);
      dst = AUX;
    } else {
      a.push(Gpr.RCX);
    }
    movReg(a, true, Gpr.RCX, src);
  }
  a.shift_rcl(SHIFTS[op >> 4]!, w, dst);
  if (src !== Gpr.RCX) {
    if (dstReg === Gpr.RCX) movReg(a, true, dstReg, AUX);
    else a.pop(Gpr.RCX);
  }
}

/*
 * Byte swaps. to_be (ALU) and the unconditional bswap (ALU64 | FROM_LE):
 *   16: ror dst16, 8; movzx dst32, dst16   32: bswap dst32   64: bswap dst64
 * to_le (ALU): 16: movzx dst32, dst16   32: mov dst32, dst32   64: nothing
 * Other widths emit nothing, as in the kernel.
 */
function lowerEnd(a: Assembler, insn: Insn, dst: number): void {
  const code = insn.code;
  if (code === (Class.ALU | AluOp.END | Src.X) || code === (Class.ALU64 | AluOp.END | Src.K)) {
    if (insn.imm === 16) {
      a.rorw8(dst);
      a.movzwl_rr(dst, dst);
    } else if (insn.imm === 32) a.bswap(false, dst);
    else if (insn.imm === 64) a.bswap(true, dst);
    return;
  }
  if (code === (Class.ALU | AluOp.END | Src.K)) {
    if (insn.imm === 16) a.movzwl_rr(dst, dst);
    else if (insn.imm === 32) a.mov_rr(false, dst, dst);
    return;
  }
  throw insnError(insn.pc, `unknown opcode 0x${code.toString(16)} (byte swap)`);
}
