// Front end vs the running kernel, for rewrites the corpora do not cover (NO_USER_CONV, may_goto in a
// subprogram, arena cmpxchg without zext, sdiv/smod forms, ...): each program is loaded with bpf() and the
// front end's output must equal what the kernel made of it. Skipped where bpf() is not permitted.
import { describe, expect, it } from 'vitest';
import { encode, makeProgram, type Insn } from '../../src/isa/index.js';
import { frontEnd } from '../../src/jit/frontend/index.js';
import { bpfAvailability, ProgLoadError, runInKernel } from '../../src/kernel/index.js';
import type { RunEnv } from '../../src/env.js';
import type { CorpusProgram, KernelResult, Sidecar } from '../helpers/corpus.js';
import { baseEnv, imageStackSizes, runParity } from './corpus-env.js';

type Raw = Omit<Insn, 'pc'>;
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0, imm2?: number): Raw =>
  imm2 === undefined ? { code, dst, src, off, imm } : { code, dst, src, off, imm, imm2 };
const EXIT = I(0x95);
const KFUNCS = { '0x101': 'bpf_arena_alloc_pages' };
const CTX = '00'.repeat(128);

/** Allocates one arena page into r7 (kernel pointer); jumps to the end (`r0 = 1; exit`) when that fails. */
function arenaProgram(body: Raw[]): Raw[] {
  const head = [
    I(0xbf, 6, 1),
    I(0x18, 1, 1, 0, 0, 0),
    I(0xb7, 2),
    I(0xb7, 3, 0, 0, 1),
    I(0xb7, 4, 0, 0, -1),
    I(0xb7, 5),
    I(0x85, 0, 2, 0, 0x101),
  ];
  const rest = [I(0xbf, 7, 0, 1, 1), ...body, I(0xb7, 0), EXIT, I(0xb7, 0, 0, 0, 1), EXIT];
  const bodySlots = rest.slice(0, -3).reduce((n, i) => n + (i.code === 0x18 ? 2 : 1), 0);
  return [...head, I(0x15, 0, 0, bodySlots + 1, 0), ...rest];
}

const ARENA_BODY: Raw[] = [
  I(0xb7, 8, 0, 0, 5),
  I(0x7b, 7, 8, 0), // *(u64 *)(r7 + 0) = r8        PROBE_MEM32
  I(0x81, 8, 7, 0), // r8 = *(s32 *)(r7 + 0)        PROBE_MEM32SX
  I(0xbf, 9, 7),
  I(0x07, 9, 0, 0, 16), // r9 += 16 on an arena pointer: ALU32
  I(0x7b, 10, 9, -8), // spill
  I(0x79, 1, 10, -8), // fill
  I(0x62, 1, 0, 0, 7), // *(u32 *)(r1 + 0) = 7
  I(0xb7, 2, 0, 0, 1),
  I(0xdb, 7, 2, 8, 0x00), // lock add                  PROBE_ATOMIC
  I(0xdb, 7, 2, 8, 0x01), // fetch_add
  I(0xb7, 0),
  I(0xb7, 3, 0, 0, 9),
  I(0xc3, 7, 3, 16, 0xf1), // cmpxchg32 on the arena: no zext
  I(0x07, 0, 0, 0, 1),
  I(0xbf, 1, 7),
  I(0xbf, 1, 1, 1, 0x10000), // cast to user, dst == src
  I(0x7b, 6, 1, 0),
  I(0xb7, 4, 0, 0, 8),
  I(0x0f, 4, 7), // scalar += arena pointer: w4 += w7, r4 is an arena pointer
  I(0x27, 4, 0, 0, 3), // and r4 *= 3 is ALU32 too
  I(0xbf, 5, 10),
  I(0x5f, 5, 7), // stack pointer &= arena pointer: w5 &= w7
];

const PLAIN: Raw[] = [
  I(0xbf, 6, 1),
  I(0x79, 1, 6, 0),
  I(0x79, 2, 6, 8),
  I(0x3f, 1, 2, 1), // r1 s/= r2
  I(0x9c, 1, 2, 1), // w1 s%= w2
  I(0x3f, 1, 2), // r1 /= r2
  I(0x9c, 1, 2), // w1 %= w2
  I(0x97, 1, 0, 1, 3), // r1 s%= 3
  I(0x37, 1, 0, 1, -1), // r1 s/= -1
  I(0x94, 1, 0, 1, -1), // w1 s%= -1
  I(0x05), // ja +0
  I(0x06), // gotol +0
  I(0x7b, 10, 1, -8),
  I(0xb7, 0),
  I(0xb7, 3, 0, 0, 5),
  I(0xc3, 10, 3, -8, 0xf1), // cmpxchg32 on the stack
  I(0x0f, 0, 1), // r0 += r1: 64-bit read, so w0 = w0 after the cmpxchg
  I(0x7b, 6, 0, 16),
  I(0x85, 0, 0, 0, 118), // bpf_jiffies64
  I(0x85, 0, 0, 0, 8), // bpf_get_smp_processor_id
  I(0xbf, 1, 6),
  I(0x85, 0, 1, 0, 3), // call sub
  I(0x7b, 6, 0, 24),
  I(0xb7, 0),
  EXIT,
  // sub: a may_goto loop (counter slots at the subprogram's own stack)
  I(0x7a, 10, 0, -16, 0),
  I(0xb7, 0),
  I(0xb7, 2, 0, 0, 3),
  I(0xe5, 0, 0, 2), // may_goto +2
  I(0x17, 2, 0, 0, 1),
  I(0x55, 2, 0, -3, 0),
  EXIT,
];

/** A callee spills an arena pointer into its caller's frame (on every path, or on one): the caller's fill is one. */
function calleeSpill(onePath: boolean): Raw[] {
  const sub = [I(0xb7, 3, 0, 0, 16), I(0xbf, 3, 3, 1, 1), ...(onePath ? [I(0x15, 2, 0, 1, 0)] : []), I(0x7b, 1, 3, 0), I(0xb7, 0), EXIT];
  return [
    I(0xbf, 6, 1),
    I(0x18, 5, 1, 0, 0, 0), // the arena map, so the program has an arena
    I(0xb7, 1),
    I(0x7b, 10, 1, -8),
    I(0x79, 2, 6, 0), // an unknown value for the callee's branch
    I(0xbf, 1, 10),
    I(0x07, 1, 0, 0, -8),
    I(0x85, 0, 1, 0, 5), // call sub(&slot, unknown)
    I(0x79, 3, 10, -8), // fill what the callee spilled
    I(0x07, 3, 0, 0, 8), // ALU64 on it: w3 += 8 in the kernel
    I(0x27, 3, 0, 0, 3),
    I(0xb7, 0),
    EXIT,
    ...sub,
  ];
}

function live(name: string, insns: Raw[], arena: RunEnv['arena']): CorpusProgram {
  const bin = encode(makeProgram(insns));
  const env: RunEnv = { arena, kfuncs: arena ? KFUNCS : {}, prefault: {}, ctx: CTX };
  const r = runInKernel(bin, env, { run: false, verifierText: true, name });
  const sidecar: Sidecar = { name, arena: arena ? { pages: arena.pages, flags: arena.flags, map_extra: 0 } : null, kfuncs: env.kfuncs, prefault: {}, ctx: CTX };
  return {
    id: `live/${name}`,
    name,
    dir: '',
    bin: () => bin,
    sidecar: () => sidecar,
    kernel: () => r.record as unknown as KernelResult,
    kernelText: () => r.kernelText ?? '',
  };
}

const avail = bpfAvailability();
const describeLive = avail.ok ? describe : describe.skip;
if (!avail.ok) console.log(`front end live tests skipped: bpf() unavailable (${avail.reason})`);

describeLive('front end vs the running kernel', () => {
  const cases: [string, Raw[], RunEnv['arena']][] = [
    ['arena', arenaProgram(ARENA_BODY), { pages: 4, flags: 0, map_extra: 0n }],
    ['arena_no_user_conv', arenaProgram(ARENA_BODY), { pages: 4, flags: 1 << 18, map_extra: 0n }],
    ['plain', PLAIN, null],
    ['arena_spilled_by_callee', calleeSpill(false), { pages: 4, flags: 0, map_extra: 0n }],
    ['arena_spilled_by_callee_on_one_path', calleeSpill(true), { pages: 4, flags: 0, map_extra: 0n }],
  ];
  for (const [name, insns, arena] of cases) {
    it(`${name}: equals the kernel's xlated program and stack depths`, () => {
      const p = live(name, insns, arena);
      const r = runParity(p);
      expect(Buffer.from(r.actual).toString('hex')).toBe(Buffer.from(r.expected).toString('hex'));
      expect(r.result.stackDepth.map((d) => Math.ceil(d / 8) * 8)).toEqual(imageStackSizes(p));
      // The front end's own dead-code analysis agrees here too (no constant-decided branches).
      expect(Buffer.from(runParity(p, { useVisited: false }).actual).toString('hex')).toBe(Buffer.from(r.expected).toString('hex'));
    });
  }

  it('refuses atomic fetch-and on the arena with the kernel message', () => {
    const insns = arenaProgram([I(0xb7, 2, 0, 0, 1), I(0xdb, 7, 2, 0, 0x51)]);
    let kernelMsg = '';
    try {
      live('fetch_and', insns, { pages: 4, flags: 0, map_extra: 0n });
    } catch (e) {
      expect(e).toBeInstanceOf(ProgLoadError);
      kernelMsg = (e as ProgLoadError).log;
    }
    expect(kernelMsg).toContain('BPF_ATOMIC stores into R7 arena is not allowed');
    const prog = makeProgram(insns);
    const env = baseEnv(live('arena_ok', arenaProgram([]), { pages: 4, flags: 0, map_extra: 0n })).env;
    expect(() => frontEnd(prog, env)).toThrow('insn 11: BPF_ATOMIC stores into R7 arena is not allowed');
  });
});
