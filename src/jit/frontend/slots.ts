// src/jit/frontend — a mutable slot array with the kernel's patch/remove algorithms (kernel/bpf/core.c
// bpf_patch_insn_single / bpf_remove_insns and their branch adjustment), so offsets come out identical.

import { BpfError } from '../../errors.js';
import { Class, JmpOp, LD_IMM64, PseudoCall, PseudoLd } from '../../isa/opcodes.js';
import type { Insn, Program } from '../../isa/insn.js';

/** One 8-byte slot (the second slot of ld_imm64 is its own record with code 0, as in the kernel). */
export interface Slot {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** Per-slot facts that travel with the instruction through patches (the kernel's insn_aux_data). */
export interface Aux {
  /** Original slot index, or -1 for inserted slots. */
  orig: number;
  /** 32-bit cmpxchg whose result is read as 64 bits: gets `w0 = w0` (zext) after it. */
  zext: boolean;
  seen: boolean;
  /** Memory access through an arena pointer. */
  arena: boolean;
  /** ALU64 on an arena pointer: becomes ALU32. */
  needsZext: boolean;
}

export function slot(code: number, dst = 0, src = 0, off = 0, imm = 0): Slot {
  return { code, dst, src, off, imm: imm | 0 };
}

export class SlotProgram {
  slots: Slot[];
  aux: Aux[];
  /** Subprogram starts plus the fake 'exit' entry at the end (kernel subprog_info[].start). */
  starts: number[];
  /** Verifier stack depth of each subprogram (parallel to `starts`, without the fake entry). */
  depth: number[];

  constructor(slots: Slot[], aux: Aux[], starts: number[], depth: number[] = []) {
    this.slots = slots;
    this.aux = aux;
    this.starts = starts;
    this.depth = depth;
  }

  static fromProgram(prog: Program): SlotProgram {
    const slots: Slot[] = [];
    for (const i of prog.insns) {
      slots.push(slot(i.code, i.dst, i.src, i.off, i.imm));
      if (i.code === LD_IMM64) slots.push(slot(0, 0, 0, 0, i.imm2 ?? 0));
    }
    const aux = slots.map((_, k) => ({ orig: k, seen: true, arena: false, needsZext: false, zext: false }));
    return new SlotProgram(slots, aux, [0, slots.length]);
  }

  get length(): number {
    return this.slots.length;
  }

  toProgram(): Program {
    const insns: Insn[] = [];
    for (let pc = 0; pc < this.slots.length; pc++) {
      const s = this.slots[pc]!;
      if (s.code === LD_IMM64) {
        const hi = this.slots[pc + 1];
        insns.push({ pc, code: s.code, dst: s.dst, src: s.src, off: s.off, imm: s.imm, imm2: hi ? hi.imm : 0 });
        pc++;
      } else {
        insns.push({ pc, code: s.code, dst: s.dst, src: s.src, off: s.off, imm: s.imm });
      }
    }
    return { insns, slots: this.slots.length };
  }

  /** Replaces slot `pos` by `patch` (bpf_patch_insn_data): jumps across the patch are adjusted. */
  patch(pos: number, patch: readonly Slot[]): void {
    const len = patch.length;
    if (len === 1) {
      this.slots[pos] = { ...patch[0]! };
      return;
    }
    const old = this.aux[pos]!;
    const fresh = patch.map((s) => ({ ...s }));
    this.slots.splice(pos, 1, ...fresh);
    // The kernel keeps the old aux at the last patched slot and zeroes the others (seen copied).
    const added: Aux[] = [];
    for (let k = 0; k < len - 1; k++) added.push({ orig: -1, seen: old.seen, arena: false, needsZext: false, zext: false });
    this.aux.splice(pos, 0, ...added);
    this.adjustBranches(pos, pos + 1, pos + len, pos);
    for (let k = 0; k < this.starts.length; k++) if (this.starts[k]! > pos) this.starts[k]! += len - 1;
  }

  /** Removes `cnt` slots at `off` (verifier_remove_insns). */
  remove(off: number, cnt: number): void {
    this.slots.splice(off, cnt);
    this.aux.splice(off, cnt);
    this.adjustBranches(off, off + cnt, off, -1);
    this.adjustStartsAfterRemove(off, cnt);
  }

  /** bpf_adj_branches: walks the new program; the patched range [pos, endNew) is left alone. */
  private adjustBranches(pos: number, endOld: number, endNew: number, skipFrom: number): void {
    const delta = endNew - endOld;
    for (let i = 0; i < this.slots.length; i++) {
      if (skipFrom >= 0 && i >= skipFrom && i < endNew) continue;
      const s = this.slots[i]!;
      const cls = s.code & 7;
      const isFunc = s.code === LD_IMM64 && s.src === PseudoLd.FUNC;
      let useImm = isFunc;
      if (!isFunc) {
        if ((cls !== Class.JMP && cls !== Class.JMP32) || (s.code & 0xf0) === JmpOp.EXIT) continue;
        if ((s.code & 0xf0) === JmpOp.CALL) {
          if (s.src !== PseudoCall.CALL) continue;
          useImm = true;
        } else if (s.code === (Class.JMP32 | JmpOp.JA)) {
          useImm = true;
        }
      }
      let o = useImm ? s.imm : s.off;
      if (i < pos && i + o + 1 >= endOld) o += delta;
      else if (i >= endNew && i + o + 1 < endNew) o -= delta;
      else continue;
      if (useImm) s.imm = o | 0;
      else {
        if (o < -32768 || o > 32767) throw new BpfError({ insn: i, message: 'cannot be patched due to 16-bit range' });
        s.off = o;
      }
    }
  }

  /** adjust_subprog_starts_after_remove: fully removed subprograms disappear. */
  private adjustStartsAfterRemove(off: number, cnt: number): void {
    const st = this.starts;
    const n = st.length - 1; // subprog count; st[n] is the fake exit
    let i = 0;
    while (i < n && st[i]! < off) i++;
    let j = i;
    while (j < n && st[j]! < off + cnt) j++;
    if (st[j] !== off + cnt) j--;
    if (j > i) {
      st.splice(i, j - i);
      this.depth.splice(i, j - i);
    }
    else if (st[i] === off) i++;
    for (; i < st.length; i++) st[i]! -= cnt;
  }

  /** adjust_jmp_off: every jump (outside [tgt, tgt+delta)) that targets `tgt` moves by `delta`. */
  adjustJmpOff(tgt: number, delta: number): void {
    for (let i = 0; i < this.slots.length; i++) {
      if (tgt <= i && i < tgt + delta) continue;
      const s = this.slots[i]!;
      const cls = s.code & 7;
      const op = s.code & 0xf0;
      if ((cls !== Class.JMP && cls !== Class.JMP32) || op === JmpOp.CALL || op === JmpOp.EXIT) continue;
      if (s.code === (Class.JMP32 | JmpOp.JA)) {
        if (i + 1 + s.imm === tgt) s.imm += delta;
      } else if (i + 1 + s.off === tgt) {
        s.off += delta;
      }
    }
  }
}
