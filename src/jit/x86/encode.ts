// REX, ModRM and SIB. Memory operands are written the way the Linux JIT writes them: always with a
// displacement (disp8 when it fits, else disp32), never the mod=00 form; that also covers the
// rbp/r13 base rule. An rsp/r12 base gets the SIB byte it requires.

import type { ByteSink } from './sink.js';

export function isImm8(v: number): boolean {
  return v <= 127 && v >= -128;
}

/** REX byte with W and the high bits of reg (R), index (X) and base/rm (B). */
export function rex(w: boolean, reg: number, index: number, base: number): number {
  return 0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | ((index >> 3) << 1) | (base >> 3);
}

/** Emits REX when W is set or any register is r8..r15 (the kernel's maybe_emit_mod). */
export function maybeRex(s: ByteSink, w: boolean, reg: number, index: number, base: number): void {
  if (w || ((reg | index | base) & 8) !== 0) s.put1(rex(w, reg, index, base));
}

/** ModRM for a register-direct operand pair. */
export function modrmRR(reg: number, rm: number): number {
  return 0xc0 | ((reg & 7) << 3) | (rm & 7);
}

/** ModRM(+SIB)+disp for [base + disp] with `reg` in the reg field. */
export function memOperand(s: ByteSink, reg: number, base: number, disp: number): void {
  const short = isImm8(disp);
  s.put1((short ? 0x40 : 0x80) | ((reg & 7) << 3) | (base & 7));
  if ((base & 7) === 4) s.put1(0x24); // rsp/r12 base: SIB with no index
  if (short) s.put1(disp & 0xff);
  else s.put4(disp);
}

/** ModRM+SIB+disp for [base + index*1 + disp] (the arena form [reg + r12 + off]). */
export function memOperandIndexed(s: ByteSink, reg: number, base: number, index: number, disp: number): void {
  const short = isImm8(disp);
  s.put2((short ? 0x44 : 0x84) | ((reg & 7) << 3), ((index & 7) << 3) | (base & 7));
  if (short) s.put1(disp & 0xff);
  else s.put4(disp);
}
