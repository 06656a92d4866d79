// The JIT's instruction table: its packed words hold every field of the decoded program, the table built
// from bytes equals the one built from Insn objects, and the whole-program facts gathered on the way agree
// with the per-instruction rules they replace (stack.ts directStep, the callee-saved registers).
import { describe, expect, test } from 'vitest';
import { decode, encode } from '../../src/isa/codec.js';
import { makeProgram, type Insn } from '../../src/isa/insn.js';
import { directStep } from '../../src/jit/stack.js';
import { insnTable, insnTableFromBytes, tCode, tDst, tEmit, tImm, tOff, tPc, tSrc, TW, W_IMM2 } from '../../src/jit/table.js';

/** xorshift32: the same programs on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

/** Loads, stores and ALU instructions around r10 (some through r10 copies), an ld_imm64 and calls. */
function randomInsns(seed: number, n: number): Omit<Insn, 'pc'>[] {
  const r = rng(seed);
  const codes = [0x79, 0x61, 0x7b, 0x63, 0x7a, 0x62, 0xbf, 0x07, 0x0f, 0xb7, 0x85, 0xc3, 0xdb, 0x18];
  const out: Omit<Insn, 'pc'>[] = [];
  for (let i = 0; i < n; i++) {
    const code = codes[r() % codes.length]!;
    // r10 often, other registers otherwise.
    const reg = (): number => (r() % 3 === 0 ? 10 : r() % 10);
    let src = reg();
    // Odd seeds use r10 only as a load base as far as src goes (the direct rule holds); even seeds also copy,
    // add or store it (the data-flow pass is needed).
    if (seed % 2 === 1 && src === 10 && code !== 0x79 && code !== 0x61) src = 1;
    const insn = { code, dst: code === 0x18 ? r() % 10 : reg(), src: code === 0x18 || code === 0x85 ? 0 : src, off: (-8 * (r() % 64)) | 0, imm: r() | 0 };
    out.push(code === 0x18 ? { ...insn, off: 0, imm2: r() | 0 } : code === 0x85 ? { ...insn, off: 0, imm: 100 + (r() % 200) } : insn);
  }
  out.push({ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 });
  return out;
}

describe('instruction table', () => {
  test('fields, both builders and the direct stack depth agree with the decoded program', () => {
    let directSeen = 0;
    let dataFlowSeen = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const prog = makeProgram(randomInsns(seed, 10 + seed * 7));
      const t = insnTable(prog);
      expect(t.length).toBe(prog.insns.length);
      let depth = 0;
      for (let i = 0; i < prog.insns.length; i++) {
        const insn = prog.insns[i]!;
        expect([tPc(t, i), tCode(t, i), tDst(t, i), tSrc(t, i), tOff(t, i), tImm(t, i)]).toEqual([insn.pc, insn.code, insn.dst, insn.src, insn.off, insn.imm]);
        expect(t.w[i * TW + W_IMM2]).toBe(insn.code === 0x18 ? insn.imm2 : 0);
        expect(tEmit(t, i)).toBe(insn.code === 0x85 ? 2 : insn.code === 0x95 ? 1 : 0);
        if (depth >= 0) depth = directStep(insn.code, insn.dst, insn.src, insn.off, depth);
      }
      expect(t.facts.directDepth, `seed ${seed}`).toBe(depth);
      if (depth >= 0) directSeen++;
      else dataFlowSeen++;
      const fromBytes = insnTableFromBytes(encode(prog));
      expect(fromBytes.slots).toBe(prog.slots);
      expect(Array.from(fromBytes.table.w)).toEqual(Array.from(t.w));
      expect(fromBytes.table.facts).toEqual(t.facts);
      expect(decode(encode(prog)).insns.length).toBe(prog.insns.length);
    }
    // Both outcomes of the direct-depth rule were exercised.
    expect(directSeen).toBeGreaterThan(5);
    expect(dataFlowSeen).toBeGreaterThan(5);
  });
});
