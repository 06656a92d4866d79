// REX, ModRM and SIB, and the instruction forms the hot lowerings use, as functions that write into a
// byte array at a position and return the end: a lowering keeps buffer and position in locals instead of
// going through a sink object per byte (the Assembler's methods for the same forms call these, so each
// form is encoded in one place). Writes past the end of the array are dropped, as with ByteSink.
// Memory operands are written the way the Linux JIT writes them: always with a displacement (disp8 when
// it fits, else disp32), never the mod=00 form; that also covers the rbp/r13 base rule. An rsp/r12 base
// gets the SIB byte it requires.

import { NOPS, NOP_MAX } from './opcodes.js';

export function isImm8(v: number): boolean {
  return v <= 127 && v >= -128;
}

/** REX byte with W and the high bits of reg (R), index (X) and base/rm (B). */
export function rex(w: boolean, reg: number, index: number, base: number): number {
  return 0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | ((index >> 3) << 1) | (base >> 3);
}

/** REX when W is set or any register is r8..r15 (the kernel's maybe_emit_mod). */
export function rexIf(b: Uint8Array, p: number, w: boolean, reg: number, index: number, base: number): number {
  if (!w && ((reg | index | base) & 8) === 0) return p;
  b[p] = rex(w, reg, index, base);
  return p + 1;
}

/** ModRM for a register-direct operand pair. */
export function modrmRR(reg: number, rm: number): number {
  return 0xc0 | ((reg & 7) << 3) | (rm & 7);
}

/** Little-endian 32-bit value (signed or unsigned input). */
export function imm32(b: Uint8Array, p: number, v: number): number {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
  return p + 4;
}

/** imm8 / imm16 / imm32 by access width (8 bytes: the sign-extended imm32). */
export function immOfWidth(b: Uint8Array, p: number, width: number, v: number): number {
  b[p] = v;
  if (width === 1) return p + 1;
  b[p + 1] = v >>> 8;
  if (width === 2) return p + 2;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
  return p + 4;
}

/** ModRM(+SIB)+disp for [base + disp] with `reg` in the reg field. */
export function mem(b: Uint8Array, p: number, reg: number, base: number, disp: number): number {
  const short = isImm8(disp);
  b[p++] = (short ? 0x40 : 0x80) | ((reg & 7) << 3) | (base & 7);
  if ((base & 7) === 4) b[p++] = 0x24; // rsp/r12 base: SIB with no index
  if (!short) return imm32(b, p, disp);
  b[p] = disp;
  return p + 1;
}

/** ModRM+SIB+disp for [base + index*1 + disp] (the arena form [reg + r12 + off]). */
export function memIdx(b: Uint8Array, p: number, reg: number, base: number, index: number, disp: number): number {
  const short = isImm8(disp);
  b[p] = (short ? 0x44 : 0x84) | ((reg & 7) << 3);
  b[p + 1] = ((index & 7) << 3) | (base & 7);
  if (!short) return imm32(b, p + 2, disp);
  b[p + 2] = disp;
  return p + 3;
}

/** `opcode r/m, reg` between registers (89 mov, 01 add, 39 cmp, 85 test, ...). */
export function encRR(b: Uint8Array, p: number, opcode: number, w: boolean, reg: number, rm: number): number {
  p = rexIf(b, p, w, reg, 0, rm);
  b[p] = opcode;
  b[p + 1] = modrmRR(reg, rm);
  return p + 2;
}

/** Group-1 op with an immediate: 83 /digit ib when it fits in 8 bits, else the short rax form
 *  (`raxImm`, when not -1), else 81 /digit id. */
export function encRI(b: Uint8Array, p: number, digit: number, raxImm: number, w: boolean, dst: number, imm: number): number {
  p = rexIf(b, p, w, 0, 0, dst);
  if (isImm8(imm)) {
    b[p] = 0x83;
    b[p + 1] = 0xc0 | (digit << 3) | (dst & 7);
    b[p + 2] = imm;
    return p + 3;
  }
  if (raxImm !== -1 && dst === 0) {
    b[p] = raxImm;
    return imm32(b, p + 1, imm);
  }
  b[p] = 0x81;
  b[p + 1] = 0xc0 | (digit << 3) | (dst & 7);
  return imm32(b, p + 2, imm);
}

/** `opcode /digit` on a register with no immediate (F7 /3 neg, D1 /4 shl by 1, D3 /d shift by cl, ...). */
export function encR(b: Uint8Array, p: number, opcode: number, digit: number, w: boolean, dst: number): number {
  p = rexIf(b, p, w, 0, 0, dst);
  b[p] = opcode;
  b[p + 1] = 0xc0 | (digit << 3) | (dst & 7);
  return p + 2;
}

/** Zero-extending load into dst: movzx r64 for 1/2 bytes (REX.W, as the kernel emits), mov for 4/8. */
export function encLoad(b: Uint8Array, p: number, width: number, dst: number, base: number, disp: number): number {
  if (width <= 2) {
    b[p] = rex(true, dst, 0, base);
    b[p + 1] = 0x0f;
    b[p + 2] = width === 1 ? 0xb6 : 0xb7;
    p += 3;
  } else {
    p = rexIf(b, p, width === 8, dst, 0, base);
    b[p++] = 0x8b;
  }
  return mem(b, p, dst, base, disp);
}

/** Sign-extending load into a 64-bit dst (movsx r64, m8/m16; movsxd r64, m32). */
export function encLoadsx(b: Uint8Array, p: number, width: number, dst: number, base: number, disp: number): number {
  b[p++] = rex(true, dst, 0, base);
  if (width === 4) b[p++] = 0x63;
  else {
    b[p] = 0x0f;
    b[p + 1] = width === 1 ? 0xbe : 0xbf;
    p += 2;
  }
  return mem(b, p, dst, base, disp);
}

/** Zero-extending load from [base + index + disp] (the arena form: REX without W below 8 bytes). */
export function encLoadIdx(b: Uint8Array, p: number, width: number, dst: number, base: number, index: number, disp: number): number {
  b[p++] = rex(width === 8, dst, index, base);
  if (width <= 2) {
    b[p] = 0x0f;
    b[p + 1] = width === 1 ? 0xb6 : 0xb7;
    p += 2;
  } else b[p++] = 0x8b;
  return memIdx(b, p, dst, base, index, disp);
}

/** Sign-extending load from [base + index + disp] into a 64-bit dst. */
export function encLoadsxIdx(b: Uint8Array, p: number, width: number, dst: number, base: number, index: number, disp: number): number {
  b[p++] = rex(true, dst, index, base);
  if (width === 4) b[p++] = 0x63;
  else {
    b[p] = 0x0f;
    b[p + 1] = width === 1 ? 0xbe : 0xbf;
    p += 2;
  }
  return memIdx(b, p, dst, base, index, disp);
}

/** Store src to [base + disp]. A byte store from spl..dil needs REX to name the low byte. */
export function encStore(b: Uint8Array, p: number, width: number, base: number, src: number, disp: number): number {
  if (width === 2) b[p++] = 0x66;
  if (width === 1 && src >= 4 && src < 8) b[p++] = rex(false, src, 0, base);
  else p = rexIf(b, p, width === 8, src, 0, base);
  b[p++] = width === 1 ? 0x88 : 0x89;
  return mem(b, p, src, base, disp);
}

/** Store src to [base + index + disp]. */
export function encStoreIdx(b: Uint8Array, p: number, width: number, base: number, src: number, index: number, disp: number): number {
  if (width === 2) b[p++] = 0x66;
  b[p] = rex(width === 8, src, index, base);
  b[p + 1] = width === 1 ? 0x88 : 0x89;
  return memIdx(b, p + 2, src, base, index, disp);
}

/** Store an immediate (imm8/imm16/imm32; sign-extended imm32 for 8 bytes) to [base + disp]. */
export function encStoreImm(b: Uint8Array, p: number, width: number, base: number, disp: number, imm: number): number {
  if (width === 2) b[p++] = 0x66;
  p = rexIf(b, p, width === 8, 0, 0, base);
  b[p++] = width === 1 ? 0xc6 : 0xc7;
  return immOfWidth(b, mem(b, p, 0, base, disp), width, imm);
}

/** Store an immediate to [base + index + disp]. */
export function encStoreImmIdx(b: Uint8Array, p: number, width: number, base: number, index: number, disp: number, imm: number): number {
  if (width === 2) b[p++] = 0x66;
  b[p] = rex(width === 8, 0, index, base);
  b[p + 1] = width === 1 ? 0xc6 : 0xc7;
  return immOfWidth(b, memIdx(b, p + 2, 0, base, index, disp), width, imm);
}

/** mov r32, imm32 (B8+r): zero-extends. */
export function encMovl(b: Uint8Array, p: number, dst: number, imm: number): number {
  p = rexIf(b, p, false, 0, 0, dst);
  b[p] = 0xb8 + (dst & 7);
  return imm32(b, p + 1, imm);
}

/** movabs r64, imm64 (REX.W B8+r): lo and hi are the two 32-bit halves. */
export function encMovabs(b: Uint8Array, p: number, dst: number, lo: number, hi: number): number {
  b[p] = rex(true, 0, 0, dst);
  b[p + 1] = 0xb8 + (dst & 7);
  return imm32(b, imm32(b, p + 2, lo), hi);
}

/** mov r64, simm32 (REX.W C7 /0): sign-extends. */
export function encMovqSimm32(b: Uint8Array, p: number, dst: number, imm: number): number {
  return imm32(b, encR(b, p, 0xc7, 0, true, dst), imm);
}

/** imul dst, src (0F AF). */
export function encImulRR(b: Uint8Array, p: number, w: boolean, dst: number, src: number): number {
  p = rexIf(b, p, w, dst, 0, src);
  b[p] = 0x0f;
  b[p + 1] = 0xaf;
  b[p + 2] = modrmRR(dst, src);
  return p + 3;
}

/** imul dst, src, imm (6B ib / 69 id). */
export function encImulRRI(b: Uint8Array, p: number, w: boolean, dst: number, src: number, imm: number): number {
  p = rexIf(b, p, w, dst, 0, src);
  b[p + 1] = modrmRR(dst, src);
  if (isImm8(imm)) {
    b[p] = 0x6b;
    b[p + 2] = imm;
    return p + 3;
  }
  b[p] = 0x69;
  return imm32(b, p + 2, imm);
}

/** Shift by an immediate: D1 /digit for a count of 1, else C1 /digit ib. */
export function encShiftRI(b: Uint8Array, p: number, digit: number, w: boolean, dst: number, count: number): number {
  if (count === 1) return encR(b, p, 0xd1, digit, w, dst);
  p = encR(b, p, 0xc1, digit, w, dst);
  b[p] = count;
  return p + 1;
}

/** shlx/shrx/sarx dst, src1, count (VEX.LZ.0F38 F7 /r, always the 3-byte VEX; `pp` selects the shift). */
export function encShiftx(b: Uint8Array, p: number, pp: number, w: boolean, dst: number, src1: number, count: number): number {
  b[p] = 0xc4;
  b[p + 1] = ((dst & 8) !== 0 ? 0 : 0x80) | 0x40 | ((src1 & 8) !== 0 ? 0 : 0x20) | 0x02;
  b[p + 2] = (w ? 0x80 : 0) | ((~count & 0xf) << 3) | pp;
  b[p + 3] = 0xf7;
  b[p + 4] = modrmRR(dst, src1);
  return p + 5;
}

/** Jcc rel8 (70+cc). */
export function encJcc8(b: Uint8Array, p: number, cc: number, rel: number): number {
  b[p] = 0x70 | cc;
  b[p + 1] = rel;
  return p + 2;
}

/** Jcc rel32 (0F 80+cc). */
export function encJcc32(b: Uint8Array, p: number, cc: number, rel: number): number {
  b[p] = 0x0f;
  b[p + 1] = 0x80 | cc;
  return imm32(b, p + 2, rel);
}

/** Linux's emit_nops: the longest P6 nops first (at most NOP_MAX bytes each). */
export function encNops(b: Uint8Array, p: number, len: number): number {
  while (len > 0) {
    const n = len > NOP_MAX ? NOP_MAX : len;
    const nop = NOPS[n]!;
    for (let i = 0; i < n; i++) b[p++] = nop[i]!;
    len -= n;
  }
  return p;
}
