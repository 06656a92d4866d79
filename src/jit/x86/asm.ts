// The assembler: one method per x86-64 instruction form the BPF JIT uses, named after the mnemonic
// with a width suffix (l = 32-bit, q = 64-bit). Registers are hardware numbers (see regs.ts).
// REX is emitted only when needed (W, or an r8..r15 operand, or a byte register spl..dil), which is
// exactly the kernel's rule; the one place the kernel adds a redundant REX is an explicit parameter.

import { Cond } from './cond.js';
import {
  encImulRR,
  encImulRRI,
  encJcc32,
  encJcc8,
  encLoad,
  encLoadIdx,
  encLoadsx,
  encLoadsxIdx,
  encMovabs,
  encMovl,
  encMovqSimm32,
  encNops,
  encR,
  encRI,
  encRR,
  encShiftRI,
  encStore,
  encStoreIdx,
  encStoreImm,
  encStoreImmIdx,
  imm32,
  mem,
  memIdx,
  modrmRR,
  rex,
  rexIf,
} from './encode.js';
import type { AluForm, Shift } from './opcodes.js';
import { ByteSink } from './sink.js';

/** Access width in bytes. */
export type Width = 1 | 2 | 4 | 8;

export class Assembler {
  readonly s: ByteSink;

  constructor(sink: ByteSink = new ByteSink()) {
    this.s = sink;
  }

  get pos(): number {
    return this.s.pos;
  }

  // ---- moves between registers and immediates ----

  /** mov dst, src (89 /r). */
  mov_rr(w: boolean, dst: number, src: number): void {
    const s = this.s;
    s.pos = encRR(s.buf, s.pos, 0x89, w, src, dst);
  }

  /** mov r32, imm32 (B8+r): zero-extends. */
  movl_ri(dst: number, imm: number): void {
    const s = this.s;
    s.pos = encMovl(s.buf, s.pos, dst, imm);
  }

  /** mov r64, simm32 (REX.W C7 /0): sign-extends. */
  movq_ri32(dst: number, imm: number): void {
    const s = this.s;
    s.pos = encMovqSimm32(s.buf, s.pos, dst, imm);
  }

  /** movabs r64, imm64 (REX.W B8+r). */
  movabsq(dst: number, lo: number, hi: number): void {
    const s = this.s;
    s.pos = encMovabs(s.buf, s.pos, dst, lo, hi);
  }

  /** movsx between registers: 8/16/32 bits into 64 (w) or 8/16 bits into 32. `forceRex` adds the 0x40
   *  the kernel always emits for the 32-bit 8-bit form. */
  movsx_rr(w: boolean, bits: 8 | 16 | 32, dst: number, src: number, forceRex = false): void {
    const s = this.s;
    if (w || forceRex || ((dst | src) & 8) !== 0 || (bits === 8 && src >= 4)) {
      s.put1(rex(w, dst, 0, src));
    }
    if (bits === 32) s.put2(0x63, modrmRR(dst, src));
    else s.put3(0x0f, bits === 8 ? 0xbe : 0xbf, modrmRR(dst, src));
  }

  /** movzx r32, r16 (0F B7). */
  movzwl_rr(dst: number, src: number): void {
    this.s.pos = rexIf(this.s.buf, this.s.pos, false, dst, 0, src);
    this.s.put3(0x0f, 0xb7, modrmRR(dst, src));
  }

  /** cmove dst, src (0F 44). */
  cmove_rr(w: boolean, dst: number, src: number): void {
    this.s.pos = rexIf(this.s.buf, this.s.pos, w, dst, 0, src);
    this.s.put3(0x0f, 0x40 | Cond.E, modrmRR(dst, src));
  }

  // ---- arithmetic ----

  /** op dst, src for the two-operand group (add/or/and/sub/xor/cmp). */
  alu_rr(op: AluForm, w: boolean, dst: number, src: number): void {
    const s = this.s;
    s.pos = encRR(s.buf, s.pos, op.rm, w, src, dst);
  }

  /** op dst, imm: 83 /d ib when it fits in 8 bits, else the short rax form if allowed, else 81 /d id. */
  alu_ri(op: AluForm, w: boolean, dst: number, imm: number, raxShortForm: boolean): void {
    const s = this.s;
    s.pos = encRI(s.buf, s.pos, op.digit, raxShortForm ? op.raxImm : -1, w, dst, imm);
  }

  /** op dst, imm32 always in the 32-bit form (81 /d id, or the short rax form). */
  alu_ri32(op: AluForm, w: boolean, dst: number, imm: number): void {
    const s = this.s;
    s.pos = rexIf(s.buf, s.pos, w, 0, 0, dst);
    if (dst === 0) {
      s.put1(op.raxImm);
    } else {
      s.put2(0x81, 0xc0 | (op.digit << 3) | (dst & 7));
    }
    s.put4(imm);
  }

  /** test dst, src (85 /r). */
  test_rr(w: boolean, dst: number, src: number): void {
    const s = this.s;
    s.pos = encRR(s.buf, s.pos, 0x85, w, src, dst);
  }

  /** test dst, imm32 (F7 /0). */
  test_ri(w: boolean, dst: number, imm: number): void {
    const s = this.s;
    s.pos = imm32(s.buf, encR(s.buf, s.pos, 0xf7, 0, w, dst), imm);
  }

  /** neg dst (F7 /3). */
  neg_r(w: boolean, dst: number): void {
    const s = this.s;
    s.pos = encR(s.buf, s.pos, 0xf7, 3, w, dst);
  }

  /** imul dst, src (0F AF). */
  imul_rr(w: boolean, dst: number, src: number): void {
    const s = this.s;
    s.pos = encImulRR(s.buf, s.pos, w, dst, src);
  }

  /** imul dst, src, imm (6B ib / 69 id). */
  imul_rri(w: boolean, dst: number, src: number, imm: number): void {
    const s = this.s;
    s.pos = encImulRRI(s.buf, s.pos, w, dst, src, imm);
  }

  /** div / idiv src (F7 /6, F7 /7): rdx:rax by src. */
  div_r(w: boolean, signed: boolean, src: number): void {
    const s = this.s;
    s.pos = encR(s.buf, s.pos, 0xf7, signed ? 7 : 6, w, src);
  }

  /** cdq (99) / cqo (48 99). */
  cdq(w: boolean): void {
    if (w) this.s.put2(0x48, 0x99);
    else this.s.put1(0x99);
  }

  /** Shift by an immediate: D1 /d for a count of 1, else C1 /d ib. */
  shift_ri(op: Shift, w: boolean, dst: number, count: number): void {
    const s = this.s;
    s.pos = encShiftRI(s.buf, s.pos, op, w, dst, count);
  }

  /** Shift by cl (D3 /d). */
  shift_rcl(op: Shift, w: boolean, dst: number): void {
    const s = this.s;
    s.pos = encR(s.buf, s.pos, 0xd3, op, w, dst);
  }

  /** ror r16, 8 (66 C1 /1 08). */
  rorw8(dst: number): void {
    this.s.put1(0x66);
    this.s.pos = rexIf(this.s.buf, this.s.pos, false, 0, 0, dst);
    this.s.put3(0xc1, 0xc8 | (dst & 7), 8);
  }

  /** bswap r32/r64 (0F C8+r). */
  bswap(w: boolean, dst: number): void {
    this.s.pos = rexIf(this.s.buf, this.s.pos, w, 0, 0, dst);
    this.s.put2(0x0f, 0xc8 + (dst & 7));
  }

  // ---- memory ----

  /** Zero-extending load into dst: movzx r64 for 1/2 bytes (REX.W, as the kernel emits), mov for 4/8. */
  load(width: Width, dst: number, base: number, disp: number): void {
    const s = this.s;
    s.pos = encLoad(s.buf, s.pos, width, dst, base, disp);
  }

  /** Sign-extending load into a 64-bit dst (movsx r64, m8/m16; movsxd r64, m32). */
  loadsx(width: 1 | 2 | 4, dst: number, base: number, disp: number): void {
    const s = this.s;
    s.pos = encLoadsx(s.buf, s.pos, width, dst, base, disp);
  }

  /** Zero-extending load from [base + index + disp] (the arena form: REX without W below 8 bytes). */
  load_idx(width: Width, dst: number, base: number, index: number, disp: number): void {
    const s = this.s;
    s.pos = encLoadIdx(s.buf, s.pos, width, dst, base, index, disp);
  }

  /** Sign-extending load from [base + index + disp] into a 64-bit dst. */
  loadsx_idx(width: 1 | 2 | 4, dst: number, base: number, index: number, disp: number): void {
    const s = this.s;
    s.pos = encLoadsxIdx(s.buf, s.pos, width, dst, base, index, disp);
  }

  /** Store src to [base + disp]. */
  store(width: Width, base: number, src: number, disp: number): void {
    const s = this.s;
    s.pos = encStore(s.buf, s.pos, width, base, src, disp);
  }

  /** Store src to [base + index + disp]. */
  store_idx(width: Width, base: number, src: number, index: number, disp: number): void {
    const s = this.s;
    s.pos = encStoreIdx(s.buf, s.pos, width, base, src, index, disp);
  }

  /** Store an immediate (imm8/imm16/imm32; sign-extended imm32 for 8 bytes) to [base + disp]. */
  store_imm(width: Width, base: number, disp: number, imm: number): void {
    const s = this.s;
    s.pos = encStoreImm(s.buf, s.pos, width, base, disp, imm);
  }

  /** Store an immediate to [base + index + disp]. */
  store_imm_idx(width: Width, base: number, index: number, disp: number, imm: number): void {
    const s = this.s;
    s.pos = encStoreImmIdx(s.buf, s.pos, width, base, index, disp, imm);
  }

  /** lock-prefixed read-modify-write on [base + disp] with src in the reg field; `opcode` is 1 or 2 bytes
   *  (0x01 add, 0x09 or, 0x21 and, 0x31 xor, 0x87 xchg, 0x0fc1 xadd, 0x0fb1 cmpxchg). */
  lock_rmw(opcode: number, w: boolean, base: number, src: number, disp: number): void {
    const s = this.s;
    s.put1(0xf0);
    s.pos = rexIf(s.buf, s.pos, w, src, 0, base);
    if (opcode > 0xff) s.put2(opcode >> 8, opcode & 0xff);
    else s.put1(opcode);
    s.pos = mem(s.buf, s.pos, src, base, disp);
  }

  /** The same on [base + index + disp]; REX is always present (the index is r12). */
  lock_rmw_idx(opcode: number, w: boolean, base: number, src: number, index: number, disp: number): void {
    const s = this.s;
    s.put2(0xf0, rex(w, src, index, base));
    if (opcode > 0xff) s.put2(opcode >> 8, opcode & 0xff);
    else s.put1(opcode);
    s.pos = memIdx(s.buf, s.pos, src, base, index, disp);
  }

  /** add dst, gs:[disp32] — written as the kernel writes it: REX.B (not R) marks an r8..r15 dst. */
  add_gs_disp32_kernel(dst: number, disp: number): void {
    this.s.put2(0x65, 0x48 | (dst >> 3));
    this.s.put3(0x03, 0x04 | ((dst & 7) << 3), 0x25);
    this.s.put4(disp);
  }

  // ---- stack and control flow ----

  push(r: number): void {
    if (r >= 8) this.s.put2(0x41, 0x50 + (r & 7));
    else this.s.put1(0x50 + r);
  }

  pop(r: number): void {
    if (r >= 8) this.s.put2(0x41, 0x58 + (r & 7));
    else this.s.put1(0x58 + r);
  }

  /** sub rsp, imm32 (48 81 EC id): the frame is always allocated with the 32-bit form. */
  sub_rsp_imm32(imm: number): void {
    this.s.put3(0x48, 0x81, 0xec);
    this.s.put4(imm);
  }

  jcc8(cc: Cond, rel: number): void {
    const s = this.s;
    s.pos = encJcc8(s.buf, s.pos, cc, rel);
  }

  jcc32(cc: Cond, rel: number): void {
    const s = this.s;
    s.pos = encJcc32(s.buf, s.pos, cc, rel);
  }

  jmp8(rel: number): void {
    this.s.put2(0xeb, rel & 0xff);
  }

  jmp32(rel: number): void {
    this.s.put1(0xe9);
    this.s.put4(rel);
  }

  call32(rel: number): void {
    this.s.put1(0xe8);
    this.s.put4(rel);
  }

  leave(): void {
    this.s.put1(0xc9);
  }

  ret(): void {
    this.s.put1(0xc3);
  }

  lfence(): void {
    this.s.put3(0x0f, 0xae, 0xe8);
  }

  /** Linux's emit_nops: the longest P6 nops first (at most 8 bytes each). */
  nops(len: number): void {
    const s = this.s;
    s.pos = encNops(s.buf, s.pos, len);
  }
}
