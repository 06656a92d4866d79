// The fast layout (first-pass bytes reused, middle passes computing jump sizes only, image pass copying
// position-independent code) against the kernel's algorithm done literally (fullPasses: every jump
// lowered in every pass, every instruction lowered again in the image pass): images, per-slot offsets,
// exception tables and pass counts must be identical. Random programs stress jump sizes around the
// rel8 limit, backward jumps, ld_imm64, exits, calls, arena accesses and subprograms; the corpora
// (16-18-pass programs with nop padding, 170 with subprograms) are compared when present.
import { describe, expect, test } from 'vitest';
import { makeProgram, type Insn, type Program } from '../../src/isa/insn.js';
import { jit, type JitExtraOptions, type JitResultEx } from '../../src/jit/index.js';
import { allPrograms } from '../helpers/corpus.js';
import { corpusJob } from './corpus-job.js';

type I = Omit<Insn, 'pc'>;
const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): I => ({ code, dst, src, off, imm });

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

const ALU = [0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x47, 0x4f, 0x57, 0x5f, 0xa7, 0xaf, 0xb7, 0xbf, 0x04, 0x0c, 0xb4, 0xbc, 0x67, 0x77, 0xc7, 0x6f, 0x87];
const JCC = [0x15, 0x1d, 0x25, 0x2d, 0x55, 0x5d, 0x65, 0xa5, 0xb5, 0x16, 0x56, 0x45, 0x4d];

/** A random kernel-xlated program of about `n` instructions; `arena` adds PROBE_MEM32 accesses and
 *  `subprog` a bpf-to-bpf callee at the end. Jump targets are instruction starts. */
function randomProgram(seed: number, n: number, arena: boolean, subprog: boolean): Program {
  const r = rng(seed);
  const body: I[] = [];
  const jumps: { at: number; to: number }[] = [];
  for (let i = 0; i < n; i++) {
    const k = r(20);
    const reg = r(10);
    if (k < 8) body.push(ins(ALU[r(ALU.length)]!, reg, r(10), 0, r(2) ? r(100) - 50 : (r(0x7fffffff) * 3) | 0));
    else if (k < 9) body.push({ ...ins(0x18, reg, 0, 0, r(0x7fffffff)), imm2: r(3) - 1 });
    else if (k < 10) body.push(ins(0x79, reg, 10, -8 * (1 + r(60))));
    else if (k < 11) body.push(ins(0x7b, 10, reg, -8 * (1 + r(60))));
    else if (k < 12 && arena) body.push(ins([0xa1, 0xb1, 0xb9, 0xa3, 0xa2, 0xc1][r(6)]!, reg, r(10), 8 * r(512), 7));
    else if (k < 13) body.push(ins(0x85, 0, 0, 0, 0x1000 + r(0x10000)));
    else if (k < 14 && r(4) === 0) body.push(ins(0x95));
    else if (k < 18) {
      // Spans near the rel8 limit (about 20-40 instructions) are the interesting ones.
      const span = r(8) === 0 ? r(3000) : 10 + r(40);
      const to = r(5) === 0 ? Math.max(0, i - span) : Math.min(n, i + 1 + span);
      jumps.push({ at: body.length, to });
      body.push(r(6) === 0 ? ins(0x05) : ins(JCC[r(JCC.length)]!, reg, r(10), 0, r(3) ? 0 : r(200) - 100));
    } else body.push(ins(ALU[r(ALU.length)]!, reg, r(10), 0, 1));
  }
  const mainEnd = body.length;
  if (subprog) body.push(ins(0x85, 0, 1, 0, 0)); // fixed below: call the callee
  body.push(ins(0xb7, 0, 0, 0, 0), ins(0x95));
  const callee = body.length;
  if (subprog) body.push(ins(0xbf, 0, 1), ins(0x07, 0, 0, 0, 1), ins(0x95));
  // Slot of each instruction, then offsets from slots.
  const slot: number[] = [];
  let pc = 0;
  for (const b of body) {
    slot.push(pc);
    pc += b.code === 0x18 ? 2 : 1;
  }
  slot.push(pc);
  for (const j of jumps) {
    const off = slot[Math.min(j.to, mainEnd)]! - (slot[j.at]! + 1);
    body[j.at] = { ...body[j.at]!, off };
  }
  if (subprog) body[mainEnd] = { ...body[mainEnd]!, imm: slot[callee]! - (slot[mainEnd]! + 1) };
  return makeProgram(body);
}

function same(prog: Program, opts: JitExtraOptions): { fast: JitResultEx; full: JitResultEx } {
  const fast = jit(prog, opts);
  const full = jit(prog, { ...opts, fullPasses: true });
  return { fast, full };
}

function comparable(r: JitResultEx): unknown {
  return {
    passes: r.passes,
    functions: r.functions.map((f) => ({
      image: Buffer.from(f.image).toString('hex'),
      addrs: Array.from(f.addrs),
      extable: [...f.extable],
      passes: f.passes,
    })),
  };
}

describe('fast layout = literal kernel passes', () => {
  test('random programs (jumps around the rel8 limit, ld_imm64, exits, calls, arena, subprograms)', () => {
    let checked = 0;
    let maxPasses = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const arena = seed % 3 === 0;
      const prog = randomProgram(seed, 20 + ((seed * 37) % 700), arena, seed % 4 === 1);
      const opts: JitExtraOptions = arena ? { kernVmStart: 0xffffc90100000000n, userVmStart: 0x100000000n } : {};
      const { fast, full } = same(prog, opts);
      expect(comparable(fast), `seed ${seed}`).toEqual(comparable(full));
      maxPasses = Math.max(maxPasses, fast.passes);
      checked++;
    }
    expect(checked).toBe(120);
    expect(maxPasses).toBeGreaterThan(3); // some layouts took several passes
  });

  test('a jump into the middle of ld_imm64 takes the full passes and gives the same result', () => {
    const prog = makeProgram([ins(0x15, 1, 0, 1), { ...ins(0x18, 2, 0, 0, 5), imm2: 1 }, ins(0x95)]);
    const { fast, full } = same(prog, {});
    expect(comparable(fast)).toEqual(comparable(full));
  });

  test('a helper call out of rel32 reach is reported in both modes', () => {
    const prog = makeProgram([ins(0x85, 0, 0, 0, 0x1234), ins(0xb7), ins(0x95)]);
    const opts: JitExtraOptions = { imageBase: [0xffff000000000000n] };
    expect(() => jit(prog, opts)).toThrow(/insn 0: call target 0x[0-9a-f]+ is out of rel32 range/);
    expect(() => jit(prog, { ...opts, fullPasses: true })).toThrow(/insn 0: call target 0x[0-9a-f]+ is out of rel32 range/);
  });

  test('results do not share memory with later calls (scratch buffers are reused between calls)', () => {
    const a = randomProgram(7, 300, true, true);
    const opts: JitExtraOptions = { kernVmStart: 0xffffc90100000000n, userVmStart: 0x100000000n };
    const first = jit(a, opts);
    const before = JSON.stringify(comparable(first));
    jit(randomProgram(8, 2000, true, false), opts);
    jit(randomProgram(9, 50, false, true), {});
    expect(JSON.stringify(comparable(first))).toBe(before);
    expect(JSON.stringify(comparable(jit(a, opts)))).toBe(before);
  });

  const { source, programs } = allPrograms();
  test(`corpus programs (${source})`, () => {
    for (const p of programs) {
      const job = corpusJob(p);
      const { fast, full } = same(job.prog, job.opts);
      expect(comparable(fast), p.id).toEqual(comparable(full));
    }
  });
});
