// Unit tests of the front end's rewrites. Expected sequences are the ones kernel/bpf/verifier.c (6.18) emits
// (do_misc_fixups, convert_ctx_accesses, opt_remove_nops, ...), written out by hand from that source.
import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { makeProgram, type Insn, type Program } from '../../src/isa/insn.js';
import { frontEnd, stackDepths, type CallTarget, type FrontEndEnv } from '../../src/jit/frontend/index.js';

type Raw = Omit<Insn, 'pc'>;
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0, imm2?: number): Raw =>
  imm2 === undefined ? { code, dst, src, off, imm } : { code, dst, src, off, imm, imm2 };
const prog = (...insns: Raw[]): Program => makeProgram(insns);
const EXIT = I(0x95);
const MOV0 = I(0xb7, 0, 0, 0, 0);
const AX = 11;

const CALL_BASE = 0xffffffff81000000n;
const HELPERS: Record<number, bigint> = { 5: 0xffffffff81001000n, 7: 0xffffffff81002000n };
const resolveCall = (t: CallTarget): bigint => {
  if (t.kind === 'helper') return HELPERS[t.id] ?? CALL_BASE + BigInt(t.id * 16);
  if (t.kind === 'kfunc') return t.name === 'bpf_arena_alloc_pages' ? 0xffffffff81100000n : 0xffffffff81100100n;
  return 0xffffffff81200000n; // arch_bpf_timed_may_goto
};
const ARENA = { mapPtr: 0xffff888100001000n, userVmStart: 0x100000000n, kernVmStart: 0xffffc90000000000n, flags: 0 };
const env = (extra: Partial<FrontEndEnv> = {}): FrontEndEnv => ({
  callBase: CALL_BASE,
  resolveCall,
  kfuncs: { '0x101': 'bpf_arena_alloc_pages', '0x102': 'bpf_arena_free_pages' },
  arena: ARENA,
  jiffiesAddr: 0xffffffff82a05000n,
  cpuNumberAddr: 0x2102c,
  ...extra,
});
/** Output as comparable tuples (ld_imm64 keeps imm2). */
const out = (p: Program, e: FrontEndEnv = env()): Raw[] =>
  frontEnd(p, e).prog.insns.map(({ code, dst, src, off, imm, imm2 }) => (imm2 === undefined ? { code, dst, src, off, imm } : { code, dst, src, off, imm, imm2 }));
const refusal = (p: Program, e: FrontEndEnv = env()): string => {
  try {
    frontEnd(p, e);
  } catch (err) {
    expect(err).toBeInstanceOf(BpfError);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('div/mod by register: zero and -1 checks with AX', () => {
  it('unsigned 64-bit div: if src != 0 skip; dst ^= dst (32-bit); ja +1', () => {
    expect(out(prog(MOV0, I(0x3f, 0, 1), EXIT))).toEqual([MOV0, I(0x55, 1, 0, 2, 0), I(0xac, 0, 0), I(0x05, 0, 0, 1), I(0x3f, 0, 1), EXIT]);
  });
  it('unsigned 32-bit mod: jeq32 src,0 +2; op; ja +1; w = w', () => {
    expect(out(prog(MOV0, I(0x9c, 0, 1), EXIT))).toEqual([MOV0, I(0x16, 1, 0, 2, 0), I(0x9c, 0, 1), I(0x05, 0, 0, 1), I(0xbc, 0, 0), EXIT]);
  });
  it('unsigned 64-bit mod: jeq src,0 +1; op', () => {
    expect(out(prog(MOV0, I(0x9f, 3, 4), EXIT))).toEqual([MOV0, I(0x15, 4, 0, 1, 0), I(0x9f, 3, 4), EXIT]);
  });
  it('signed 64-bit div: AX = src; AX += 1; if AX > 1 goto op; if AX == 0 goto neg; dst = 0; neg; ja +1; op', () => {
    expect(out(prog(MOV0, I(0x3f, 2, 3, 1), EXIT))).toEqual([
      MOV0,
      I(0xbf, AX, 3),
      I(0x07, AX, 0, 0, 1),
      I(0x25, AX, 0, 4, 1),
      I(0x15, AX, 0, 1, 0),
      I(0xb7, 2, 0, 0, 0),
      I(0x87, 2),
      I(0x05, 0, 0, 1),
      I(0x3f, 2, 3, 1),
      EXIT,
    ]);
  });
  it('signed 32-bit mod: the 32-bit forms and the trailing ja +1; w = w', () => {
    expect(out(prog(MOV0, I(0x9c, 3, 8, 1), EXIT))).toEqual([
      MOV0,
      I(0xbf, AX, 8),
      I(0x04, AX, 0, 0, 1),
      I(0x26, AX, 0, 3, 1),
      I(0x16, AX, 0, 4, 1),
      I(0xb4, 3, 0, 0, 0),
      I(0x05, 0, 0, 1),
      I(0x9c, 3, 8, 1),
      I(0x05, 0, 0, 1),
      I(0xbc, 3, 3),
      EXIT,
    ]);
  });
  it('signed 64-bit mod has no trailing zero-extension', () => {
    const o = out(prog(MOV0, I(0x9f, 3, 8, 1), EXIT));
    expect(o.slice(1, -1)).toEqual([I(0xbf, AX, 8), I(0x07, AX, 0, 0, 1), I(0x25, AX, 0, 3, 1), I(0x15, AX, 0, 3, 1), I(0xb4, 3, 0, 0, 0), I(0x05, 0, 0, 1), I(0x9f, 3, 8, 1)]);
  });
  it('a jump across the inserted checks is lengthened; a jump to the division lands on the checks', () => {
    const p = prog(I(0x79, 2, 1), I(0x15, 2, 0, 1, 0), I(0x55, 2, 0, 2, 1), I(0x3f, 0, 2), I(0x05, 0, 0, -3), EXIT);
    expect(out(p)).toEqual([
      I(0x79, 2, 1),
      I(0x15, 2, 0, 1, 0), // to the division: now the first check
      I(0x55, 2, 0, 5, 1), // across it: +3
      I(0x55, 2, 0, 2, 0),
      I(0xac, 0, 0),
      I(0x05, 0, 0, 1),
      I(0x3f, 0, 2),
      I(0x05, 0, 0, -6), // back across it
      EXIT,
    ]);
  });
  it('sdiv by immediate -1 becomes neg, smod by -1 becomes w = 0; other immediates stay', () => {
    expect(out(prog(I(0x79, 0, 1), I(0x37, 0, 0, 1, -1), I(0x94, 0, 0, 1, -1), I(0x97, 0, 0, 1, 7), EXIT))).toEqual([
      I(0x79, 0, 1),
      I(0x87, 0),
      I(0xb4, 0, 0, 0, 0),
      I(0x97, 0, 0, 1, 7),
      EXIT,
    ]);
  });
});

describe('nops, jumps and dead code', () => {
  it('removes ja +0 and keeps gotol +0, fixing offsets', () => {
    const p = prog(I(0x79, 1, 1), I(0x15, 1, 0, 3, 0), I(0x05, 0, 0, 0), I(0x06, 0, 0, 0, 0), MOV0, EXIT);
    expect(out(p)).toEqual([I(0x79, 1, 1), I(0x15, 1, 0, 2, 0), I(0x06, 0, 0, 0, 0), MOV0, EXIT]);
  });
  it('removes a branch decided by constants and its dead side (own constant tracking)', () => {
    const p = prog(I(0xb7, 1, 0, 0, 1), I(0x15, 1, 0, 2, 2), I(0xb7, 0, 0, 0, 5), EXIT, I(0xb7, 0, 0, 0, 7), EXIT);
    expect(out(p)).toEqual([I(0xb7, 1, 0, 0, 1), I(0xb7, 0, 0, 0, 5), EXIT]);
  });
  it('keeps a decided branch whose target is also reached by falling through (like the kernel)', () => {
    const p = prog(I(0xb7, 1, 0, 0, 1), I(0x15, 1, 0, 1, 2), I(0xb7, 0, 0, 0, 5), EXIT);
    expect(out(p)).toHaveLength(4);
  });
  it('forgets spilled constants in a stack buffer a helper may write', () => {
    const p = prog(
      I(0x7a, 10, 0, -8, 5), // *(u64 *)(r10 - 8) = 5
      I(0xbf, 1, 10),
      I(0x07, 1, 0, 0, -8),
      I(0xb7, 2, 0, 0, 8),
      I(0xb7, 3),
      I(0x85, 0, 0, 0, 113), // bpf_probe_read_kernel(r10 - 8, 8, 0)
      I(0x79, 2, 10, -8),
      I(0x15, 2, 0, 2, 5), // not decided: the helper may have changed the slot
      I(0xb7, 0, 0, 0, 1),
      EXIT,
      MOV0,
      EXIT,
    );
    expect(out(p)).toHaveLength(12);
  });
  it('keeps both sides when the verifier log says both were visited', () => {
    const p = prog(I(0xb7, 1, 0, 0, 1), I(0x15, 1, 0, 1, 2), I(0xb7, 0, 0, 0, 5), EXIT);
    expect(frontEnd(p, env({ visited: new Set([0, 1, 2, 3]) })).prog.insns).toHaveLength(4);
  });
  it('hard-wires a branch whose fall-through is dead into ja and removes the dead code', () => {
    const p = prog(I(0xb7, 1, 0, 0, 2), I(0x15, 1, 0, 1, 2), I(0xb7, 0, 0, 0, 5), EXIT);
    expect(out(p)).toEqual([I(0xb7, 1, 0, 0, 2), EXIT]);
  });
});

describe('arena', () => {
  const cast = (d: number, s: number, imm = 1): Raw => I(0xbf, d, s, 1, imm);
  const ld = (d: number, s: number, off = 0): Raw => I(0x79, d, s, off);
  it('cast to kernel becomes wD = wS; accesses through the result are PROBE_MEM32/SX/ATOMIC', () => {
    const p = prog(ld(2, 1), cast(3, 2), I(0x79, 4, 3, 8), I(0x91, 4, 3, 1), I(0x7b, 3, 4, 16), I(0x72, 3, 0, 2, 9), I(0xdb, 3, 4, 24, 0), MOV0, EXIT);
    expect(out(p)).toEqual([ld(2, 1), I(0xbc, 3, 2), I(0xb9, 4, 3, 8), I(0xd1, 4, 3, 1), I(0xbb, 3, 4, 16), I(0xb2, 3, 0, 2, 9), I(0xfb, 3, 4, 24, 0), MOV0, EXIT]);
  });
  it('cast to user is kept unless BPF_F_NO_USER_CONV', () => {
    const p = prog(ld(2, 1), cast(3, 2, 0x10000), MOV0, EXIT);
    expect(out(p)[1]).toEqual(cast(3, 2, 0x10000));
    expect(out(p, env({ arena: { ...ARENA, flags: 1 << 18 } }))[1]).toEqual(I(0xbc, 3, 2));
  });
  it('ALU64 on an arena pointer becomes ALU32; copies, spills/fills and call arguments stay arena pointers', () => {
    const p = prog(
      ld(2, 1),
      cast(3, 2),
      I(0x07, 3, 0, 0, 64), // r3 += 64 -> w3 += 64
      I(0xbf, 4, 3), // r4 = r3
      I(0x7b, 10, 4, -8), // spill
      I(0x79, 5, 10, -8), // fill
      I(0x61, 0, 5, 4), // load through the filled pointer
      I(0xbf, 1, 5),
      I(0x85, 0, 1, 0, 1), // call sub(r1 = arena pointer)
      EXIT,
      I(0x61, 0, 1, 0), // sub: load through its argument
      EXIT,
    );
    const o = out(p);
    expect(o[2]).toEqual(I(0x04, 3, 0, 0, 64));
    expect(o[6]).toEqual(I(0xa1, 0, 5, 4));
    expect(o[10]).toEqual(I(0xa1, 0, 1, 0));
    expect(o[8]).toEqual(I(0x85, 0, 1, 0, 1));
  });
  it('scalar op= arena pointer: dst becomes an arena pointer and the ALU64 op is narrowed (6.18: w7 += w6)', () => {
    // Linux 6.18 on this host: r7 = 5; r7 += r6 (r6 arena) is xlated as w7 += w6, and r3 = r10; r3 += r6 as w3 += w6.
    const p = prog(ld(2, 1), cast(3, 2), I(0xb7, 4, 0, 0, 8), I(0x0f, 4, 3), I(0x61, 0, 4, 0), I(0xbf, 5, 10), I(0x4f, 5, 3), I(0x07, 5, 0, 0, 8), I(0x61, 0, 5, 0), EXIT);
    const o = out(p);
    expect(o[3]).toEqual(I(0x0c, 4, 3));
    expect(o[4]).toEqual(I(0xa1, 0, 4, 0));
    expect(o[6]).toEqual(I(0x4c, 5, 3));
    expect(o[7]).toEqual(I(0x04, 5, 0, 0, 8));
    expect(o[8]).toEqual(I(0xa1, 0, 5, 0));
  });
  it('refuses atomic fetch-and/or/xor on the arena with the kernel message', () => {
    for (const imm of [0x51, 0x41, 0xa1]) {
      expect(refusal(prog(ld(2, 1), cast(3, 2), I(0xdb, 3, 0, 0, imm), MOV0, EXIT))).toBe('insn 2: BPF_ATOMIC stores into R3 arena is not allowed');
    }
  });
  it('refuses an access whose base is an arena pointer on one path and another pointer on another, naming both', () => {
    const p = prog(ld(2, 1), I(0x15, 2, 0, 2, 0), cast(3, 2), I(0x05, 0, 0, 1), I(0xbf, 3, 10), I(0x61, 0, 3, -8), EXIT);
    expect(refusal(p)).toBe('insn 5: same insn cannot be used with different pointers: R3 is an arena pointer (made at insn 2) on one path and a stack pointer (made at insn 4) on another');
  });
  it('refuses addr_space_cast without an arena or with other address spaces', () => {
    expect(refusal(prog(cast(3, 1), MOV0, EXIT), env({ arena: null }))).toBe('insn 0: addr_space_cast insn can only be used in a program that has an associated arena');
    expect(refusal(prog(cast(3, 1, 2), MOV0, EXIT))).toMatch(/^insn 0: addr_space_cast converts between address spaces 0 and 1 only/);
  });
});

describe('calls, ld_imm64 and inlined helpers', () => {
  it('helper and kfunc calls get imm = target - call base; kfuncs keep src_reg 2; bpf-to-bpf calls stay relative', () => {
    const p = prog(I(0x85, 0, 0, 0, 5), I(0x85, 0, 2, 0, 0x101), I(0x85, 0, 1, 0, 1), EXIT, MOV0, EXIT);
    expect(out(p)).toEqual([I(0x85, 0, 0, 0, 0x1000), I(0x85, 0, 2, 0, 0x100000), I(0x85, 0, 1, 0, 1), EXIT, MOV0, EXIT]);
  });
  it('a bpf-to-bpf call offset grows over instructions inserted between caller and callee', () => {
    const p = prog(I(0x79, 2, 1), I(0x85, 0, 1, 0, 2), I(0x3f, 0, 2), EXIT, MOV0, EXIT);
    const o = out(p);
    expect(o[1]).toEqual(I(0x85, 0, 1, 0, 5));
    expect(frontEnd(p, env()).functions).toEqual([
      { firstPc: 0, endPc: 7 },
      { firstPc: 7, endPc: 9 },
    ]);
  });
  it('refuses a kfunc that is not in the table', () => {
    expect(refusal(prog(I(0x85, 0, 2, 0, 0x999), EXIT))).toBe('insn 0: kfunc call imm 0x999 is not in the kfunc table');
  });
  it('ld_imm64 MAP_FD becomes the arena map pointer, MAP_VALUE the user address plus offset', () => {
    const o = out(prog(I(0x18, 1, 1, 0, 0, 0), I(0x18, 2, 2, 0, 0, 0x4000), MOV0, EXIT));
    expect(o[0]).toEqual(I(0x18, 1, 0, 0, 0x00001000, -30591)); // 0xffff8881_00001000
    expect(o[1]).toEqual(I(0x18, 2, 0, 0, 0x4000, 1));
  });
  it('inlines bpf_jiffies64 and bpf_get_smp_processor_id', () => {
    expect(out(prog(I(0x85, 0, 0, 0, 118), EXIT))).toEqual([I(0x18, 0, 0, 0, -2103423, -1), I(0x79, 0, 0, 0), EXIT].map((x, k) => (k === 0 ? { ...x, imm: Number(BigInt.asIntN(32, 0xffffffff82a05000n)) } : x)));
    expect(out(prog(I(0x85, 0, 0, 0, 8), EXIT))).toEqual([I(0xb7, 0, 0, 0, 0x2102c), I(0xbf, 0, 0, -1), I(0x61, 0, 0), EXIT]);
  });
  it('rewrites may_goto into the timed counter sequence and initialises the counter at the function start', () => {
    const p = prog(I(0x7a, 10, 0, -8, 0), I(0xe5, 0, 0, 1), I(0x05, 0, 0, -2), MOV0, EXIT);
    const r = frontEnd(p, env());
    const cnt = -8 - 16;
    expect(r.prog.insns.map(({ code, dst, src, off, imm }) => ({ code, dst, src, off, imm }))).toEqual([
      I(0x7a, 10, 0, -24, 0xffff),
      I(0x7a, 10, 0, -16, 0),
      I(0x7a, 10, 0, -8, 0),
      I(0x79, AX, 10, cnt),
      I(0x15, AX, 0, 1 + 5, 0),
      I(0x17, AX, 0, 0, 1),
      I(0x55, AX, 0, 2, 0),
      I(0xb7, AX, 0, 0, cnt),
      I(0x85, 0, 0, 0, 0x200000),
      I(0x7b, 10, AX, cnt),
      I(0x05, 0, 0, -8),
      MOV0,
      EXIT,
    ]);
    expect(r.stackDepth).toEqual([24]);
  });
  it('inlines bpf_loop with a constant callback and zero flags (inline_bpf_loop), analysing the callback', () => {
    const p = prog(
      I(0x7a, 10, 0, -8, 0),
      I(0xb7, 1, 0, 0, 4),
      I(0x18, 2, 4, 0, 7, 0), // r2 = callback (slot 10)
      I(0xbf, 3, 10),
      I(0x07, 3, 0, 0, -8),
      I(0xb7, 4),
      I(0x85, 0, 0, 0, 181),
      I(0x79, 0, 10, -8),
      EXIT,
      I(0x79, 3, 2, 0), // callback: *ctx += index
      I(0x0f, 3, 1),
      I(0x7b, 2, 3, 0),
      MOV0,
      EXIT,
    );
    const r = frontEnd(p, env());
    const o = r.prog.insns.map(({ code, dst, src, off, imm }) => ({ code, dst, src, off, imm }));
    // stack_base = -(8 + 24): r6, r7, r8 at -32, -24, -16
    expect(o.slice(6, 25)).toEqual([
      I(0xb5, 1, 0, 2, 8 * 1024 * 1024),
      I(0xb4, 0, 0, 0, -7),
      I(0x05, 0, 0, 16),
      I(0x7b, 10, 6, -32),
      I(0x7b, 10, 7, -24),
      I(0x7b, 10, 8, -16),
      I(0xbf, 6, 1),
      I(0xb4, 7, 0, 0, 0),
      I(0xbf, 8, 3),
      I(0x3d, 7, 6, 5),
      I(0xbf, 1, 7),
      I(0xbf, 2, 8),
      I(0x85, 0, 1, 0, 28 - 19 - 1), // slot 19 calls the callback, now at slot 28
      I(0x07, 7, 0, 0, 1),
      I(0x15, 0, 0, -6, 0),
      I(0xbf, 0, 7),
      I(0x79, 6, 10, -32),
      I(0x79, 7, 10, -24),
      I(0x79, 8, 10, -16),
    ]);
    expect(o[2]).toEqual(I(0x18, 2, 4, 0, 25)); // the callback pointer follows its function
    expect(r.stackDepth).toEqual([32, 0]);
    expect(r.functions.map((f) => f.firstPc)).toEqual([0, 28]);
  });
  it('without the timed may_goto: one counter slot initialised to BPF_MAX_LOOPS', () => {
    const p = prog(I(0xe5, 0, 0, 1), I(0x05, 0, 0, -2), MOV0, EXIT);
    const o = out(p, env({ timedMayGoto: false }));
    expect(o).toEqual([
      I(0x7a, 10, 0, -8, 8 * 1024 * 1024),
      I(0x79, AX, 10, -8),
      I(0x15, AX, 0, 1 + 2, 0),
      I(0x17, AX, 0, 0, 1),
      I(0x7b, 10, AX, -8),
      I(0x05, 0, 0, -5),
      MOV0,
      EXIT,
    ]);
  });
  it('refuses what it does not model, naming the instruction', () => {
    expect(refusal(prog(I(0x18, 1, 1, 0, 3, 0), MOV0, EXIT))).toBe('insn 0: ld_imm64 refers to map 3, which the environment does not provide');
    expect(refusal(prog(I(0x18, 1, 1, 0, 0, 0), MOV0, EXIT), env({ arena: null }))).toBe('insn 0: ld_imm64 refers to map 0, which the environment does not provide');
    expect(refusal(prog(I(0x85, 0, 0, 0, 12), MOV0, EXIT))).toBe('insn 0: bpf_tail_call is not supported by this front end');
    expect(refusal(prog(I(0x85, 0, 0, 0, 118), EXIT), env({ jiffiesAddr: undefined }))).toMatch(/^insn 0: bpf_jiffies64 is inlined by the verifier/);
    expect(refusal(prog(I(0x85, 0, 0, 0, 5), EXIT), env({ callBase: 0n }))).toBe('insn 0: address of helper #5 is out of range of the call base');
  });
  it('adds w0 = w0 after a 32-bit cmpxchg whose result is read as 64 bits', () => {
    const p = prog(I(0x7a, 10, 0, -8, 0), I(0xb7, 1, 0, 0, 3), I(0xc3, 10, 1, -8, 0xf1), I(0x07, 0, 0, 0, 1), EXIT);
    expect(out(p).slice(2, 4)).toEqual([I(0xc3, 10, 1, -8, 0xf1), I(0xbc, 0, 0, 0, 1)]);
    const q = prog(I(0x7a, 10, 0, -8, 0), I(0xb7, 1, 0, 0, 3), I(0xc3, 10, 1, -8, 0xf1), I(0x04, 0, 0, 0, 1), EXIT);
    expect(out(q)).toHaveLength(5);
  });
});

describe('functions and stack depth', () => {
  it('refuses jumps out of a function, recursion and a function not ending in exit/jump', () => {
    expect(refusal(prog(I(0x85, 0, 1, 0, 1), I(0x05, 0, 0, 1), MOV0, EXIT))).toBe('insn 1: jump to 3 leaves its function (0..1)');
    expect(refusal(prog(I(0x85, 0, 1, 0, 1), EXIT, I(0x85, 0, 1, 0, -1), EXIT))).toMatch(/^insn 2: recursive call/);
    expect(refusal(prog(MOV0))).toMatch(/^insn 0: program can fall off its end/);
  });
  it('the depth is the deepest stack byte touched, rounded up to 8, counted in the frame that owns it', () => {
    const p = prog(
      I(0x72, 10, 0, -7, 1), // *(u8 *)(r10 - 7): depth 8
      I(0xbf, 1, 10),
      I(0x07, 1, 0, 0, -40), // r1 = r10 - 40
      I(0x85, 0, 1, 0, 2), // sub(r1): writes into the caller's frame
      MOV0,
      EXIT,
      I(0x62, 1, 0, 4, 0), // caller frame -36
      I(0x7a, 10, 0, -12, 0), // own frame -12: 16
      EXIT,
    );
    expect(stackDepths(p)).toEqual([40, 16]);
    expect(frontEnd(p, env()).stackDepth).toEqual([40, 16]);
  });
  it('dead code does not count; stack buffers passed to helpers do', () => {
    const p = prog(I(0xb7, 1, 0, 0, 0), I(0x15, 1, 0, 1, 0), I(0x7a, 10, 0, -64, 0), I(0xbf, 1, 10), I(0x07, 1, 0, 0, -24), I(0x85, 0, 0, 0, 16), EXIT);
    expect(stackDepths(p)).toEqual([24]);
  });
});
