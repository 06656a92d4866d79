// src/fuzz — editing a program while keeping its control flow: instructions are deleted, inserted or replaced
// and every jump, bpf-to-bpf call and ld_imm64 of a function is re-pointed at the same instruction as before
// (offsets count slots, so they change whenever a two-slot ld_imm64 moves across them).
import type { Insn, Program } from '../isa/insn.js';
import { Class, JmpOp, LD_IMM64, PseudoCall, PseudoLd, insnClass } from '../isa/opcodes.js';

export type Raw = Omit<Insn, 'pc'>;

/** Where a relative field points: an instruction index, or (unresolvable) the raw slot delta kept as is. */
type Target = { readonly index: number } | { readonly raw: number };

interface Edited {
  readonly insn: Raw;
  /** Which field holds the relative offset, and its target. */
  readonly rel: { readonly field: 'off' | 'imm'; readonly target: Target } | null;
}

/** The relative field of an instruction, if any. */
export function relField(x: Raw): 'off' | 'imm' | null {
  if (x.code === LD_IMM64) return x.src === PseudoLd.FUNC ? 'imm' : null;
  const cls = insnClass(x.code);
  if (cls !== Class.JMP && cls !== Class.JMP32) return null;
  const op = x.code & 0xf0;
  if (op === JmpOp.EXIT) return null;
  if (op === JmpOp.CALL) return cls === Class.JMP && x.src === PseudoCall.CALL && (x.code & 0x08) === 0 ? 'imm' : null;
  if (op === JmpOp.JA && cls === Class.JMP32) return 'imm';
  return 'off';
}

const slotsOf = (x: Raw): number => (x.code === LD_IMM64 ? 2 : 1);

/** A program as an editable list whose relative fields are instruction indices. */
export class EditList {
  items: Edited[];

  constructor(prog: Program) {
    const bySlot = new Map<number, number>();
    prog.insns.forEach((x, i) => bySlot.set(x.pc, i));
    this.items = prog.insns.map((x) => {
      const { pc, ...raw } = x;
      const field = relField(raw);
      if (!field) return { insn: raw, rel: null };
      const delta = field === 'off' ? raw.off : raw.imm;
      const slot = pc + 1 + delta;
      const index = slot === prog.slots ? prog.insns.length : bySlot.get(slot);
      return { insn: raw, rel: { field, target: index === undefined ? { raw: delta } : { index } } };
    });
  }

  get length(): number {
    return this.items.length;
  }

  /** Removes instructions [i, i + n); jumps into the removed range land on what follows it. */
  delete(i: number, n = 1): void {
    this.items.splice(i, n);
    this.items = this.items.map((e) => {
      if (!e.rel || !('index' in e.rel.target)) return e;
      const t = e.rel.target.index;
      const index = t < i ? t : t < i + n ? i : t - n;
      return { insn: e.insn, rel: { field: e.rel.field, target: { index } } };
    });
  }

  /**
   * Inserts instructions before index i; existing jumps to i land on the inserted code. `local` jumps inside
   * the inserted block are given as instruction indices relative to the block (block.length = just after it).
   */
  insert(i: number, block: readonly (Raw & { readonly to?: number })[]): void {
    const n = block.length;
    this.items = this.items.map((e) => {
      if (!e.rel || !('index' in e.rel.target)) return e;
      const t = e.rel.target.index;
      return t > i ? { insn: e.insn, rel: { field: e.rel.field, target: { index: t + n } } } : e;
    });
    const added: Edited[] = block.map(({ to, ...raw }) => {
      const field = relField(raw);
      return { insn: raw, rel: field && to !== undefined ? { field, target: { index: i + to } } : null };
    });
    this.items.splice(i, 0, ...added);
  }

  /** Replaces one instruction's fields (its jump target is kept unless the new one has no relative field). */
  replace(i: number, insn: Raw): void {
    const old = this.items[i]!;
    const field = relField(insn);
    this.items[i] = { insn, rel: field && old.rel ? { field, target: old.rel.target } : field ? { field, target: { raw: field === 'off' ? insn.off : insn.imm } } : null };
  }

  toProgram(): Program {
    const starts: number[] = [];
    let at = 0;
    for (const e of this.items) {
      starts.push(at);
      at += slotsOf(e.insn);
    }
    starts.push(at);
    const insns: Insn[] = this.items.map((e, i) => {
      const pc = starts[i]!;
      if (!e.rel) return { ...e.insn, pc };
      const t = e.rel.target;
      const delta = 'raw' in t ? t.raw : starts[Math.min(t.index, this.items.length)]! - pc - 1;
      // A delta that no longer fits the 16-bit field keeps its low bits: the result is a different (odd) program.
      return e.rel.field === 'off' ? { ...e.insn, pc, off: (delta << 16) >> 16 } : { ...e.insn, pc, imm: delta | 0 };
    });
    return { insns, slots: at };
  }
}

export function clone(prog: Program): EditList {
  return new EditList(prog);
}
