// The verifier's 512-byte stack (MAX_BPF_STACK): each access (check_stack_access_within_bounds), stack
// buffers passed to helpers and kfuncs, and the combined stack of a call chain (check_max_stack_depth, frames
// rounded up to 16 bytes). The front end refuses what the verifier refuses, with its message behind `insn N:`;
// where bpf() is permitted, the running kernel is asked too.
import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { encode } from '../../src/isa/codec.js';
import { parse } from '../../src/isa/parse.js';
import type { Program } from '../../src/isa/insn.js';
import { frontEnd, stackDepths, type FrontEndEnv } from '../../src/jit/frontend/index.js';
import { bpfAvailability, ProgLoadError, runInKernel } from '../../src/kernel/index.js';
import type { RunEnv } from '../../src/env.js';

const CALL_BASE = 0xffffffff81000000n;
const ARENA = { mapPtr: 0xffff888100001000n, userVmStart: 0x100000000n, kernVmStart: 0xffffc90000000000n, flags: 0 };
const KFUNCS = { '0x101': 'bpf_arena_alloc_pages' };
const feEnv = (arena: boolean): FrontEndEnv => ({
  callBase: CALL_BASE,
  resolveCall: (t) => CALL_BASE + BigInt(t.kind === 'helper' ? t.id * 16 : 0x100000),
  kfuncs: KFUNCS,
  arena: arena ? ARENA : null,
});

function refusal(p: Program, arena = false): string {
  try {
    frontEnd(p, feEnv(arena));
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    return (e as Error).message;
  }
  return 'accepted';
}

interface Case {
  readonly name: string;
  readonly text: string;
  readonly arena?: boolean;
  /** The front end's message, or 'accepted'. */
  readonly want: string;
  /** What the kernel's log says (a substring), or 'accepted'. */
  readonly kernel: string;
}

const SUB = (depth: number): string => `sub:\n\tr1 = 0\n\t*(u64 *)(r10 -${depth}) = r1\n\tr0 = 0\n\texit`;
const ALLOC = '\tr1 = map[fd:0]\n\tr2 = 0\n\tr3 = 1\n\tr4 = -1\n\tr5 = 0\n';

const FUZZ_CASE = `${ALLOC.replace('\tr2 = 0\n', '\tr2 = r10\n\tr2 += -201711504\n')}\tcall bpf_arena_alloc_pages#257\n\tr0 = 0\n\texit`;

const CASES: Case[] = [
  {
    name: 'store 8 bytes below the 512-byte stack',
    text: '\tr1 = 0\n\t*(u64 *)(r10 -520) = r1\n\tr0 = 0\n\texit',
    want: 'insn 1: invalid write to stack R10 off=-520 size=8 (the stack is 512 bytes below r10)',
    kernel: 'invalid write to stack R10 off=-520 size=8',
  },
  {
    name: 'load below the stack',
    text: '\tr0 = *(u64 *)(r10 -520)\n\texit',
    want: 'insn 0: invalid read from stack R10 off=-520 size=8 (the stack is 512 bytes below r10)',
    kernel: 'invalid read from stack R10 off=-520 size=8',
  },
  {
    name: 'through a copy of r10',
    text: '\tr3 = r10\n\tr3 += -1000\n\tr1 = 1\n\t*(u8 *)(r3 +8) = r1\n\tr0 = 0\n\texit',
    want: 'insn 3: invalid write to stack R3 off=-992 size=1 (the stack is 512 bytes below r10)',
    kernel: 'invalid write to stack R3 off=-992 size=1',
  },
  {
    name: 'at or above r10',
    text: '\tr1 = 0\n\t*(u64 *)(r10 +0) = r1\n\tr0 = 0\n\texit',
    want: 'insn 1: invalid write to stack R10 off=0 size=8 (the stack is 512 bytes below r10)',
    kernel: 'invalid write to stack R10 off=0 size=8',
  },
  {
    name: 'a helper buffer below the stack',
    text: '\tr1 = r10\n\tr1 += -600\n\tr2 = 8\n\tr3 = 0\n\tcall bpf_probe_read_kernel#113\n\tr0 = 0\n\texit',
    want: 'insn 4: invalid indirect access to stack R1 off=-600 (the stack is 512 bytes below r10)',
    kernel: 'stack R1 off=-600',
  },
  {
    // bpf_arena_alloc_pages(map, addr__ign, ...): the verifier does not look at an __ign argument, so this is
    // no stack access (the kernel's stack depth is 0); the front end used to make a 200 MB frame of it.
    name: "the fuzzer's case: a stack pointer 200 MB below r10 as an arena kfunc's ignored argument",
    text: FUZZ_CASE,
    arena: true,
    want: 'accepted',
    kernel: 'accepted',
  },
  {
    // bpf_loop's callback context is ARG_PTR_TO_STACK_OR_NULL: the verifier does not check its bounds.
    name: "a stack pointer below 512 bytes that is no helper memory (bpf_loop's context)",
    text: '\tr1 = 2\n\tr2 = subprog[cb]\n\tr3 = r10\n\tr3 += -600\n\tr4 = 0\n\tcall bpf_loop#181\n\tr0 = 0\n\texit\ncb:\n\tr0 = 0\n\texit',
    want: 'accepted',
    kernel: 'accepted',
  },
  {
    name: 'the last stack byte is fine',
    text: '\tr1 = 0\n\t*(u64 *)(r10 -512) = r1\n\t*(u8 *)(r10 -1) = r1\n\tr0 = 0\n\texit',
    want: 'accepted',
    kernel: 'accepted',
  },
  {
    name: 'combined stack of two calls: 400 + 128 (120 rounded up to 16)',
    text: `\tr1 = 0\n\t*(u64 *)(r10 -400) = r1\n\tcall sub\n\tr0 = 0\n\texit\n${SUB(120)}`,
    want: 'insn 2: combined stack size of 2 calls is 528. Too large (the limit is 512 bytes)',
    kernel: 'combined stack size of 2 calls is 528. Too large',
  },
  {
    name: 'combined stack of exactly 512 over three frames',
    text: `\tr1 = 0\n\t*(u64 *)(r10 -256) = r1\n\tcall mid\n\tr0 = 0\n\texit\nmid:\n\tr1 = 0\n\t*(u64 *)(r10 -128) = r1\n\tcall sub\n\tr0 = 0\n\texit\n${SUB(128)}`,
    want: 'accepted',
    kernel: 'accepted',
  },
  {
    name: 'the third frame goes over',
    text: `\tr1 = 0\n\t*(u64 *)(r10 -256) = r1\n\tcall mid\n\tr0 = 0\n\texit\nmid:\n\tr1 = 0\n\t*(u64 *)(r10 -128) = r1\n\tcall sub\n\tr0 = 0\n\texit\n${SUB(136)}`,
    want: 'insn 7: combined stack size of 3 calls is 528. Too large (the limit is 512 bytes)',
    kernel: 'combined stack size of 3 calls is 528. Too large',
  },
  {
    name: "a bpf_loop callback's frame counts too",
    text: `\tr1 = 0\n\t*(u64 *)(r10 -400) = r1\n\tr1 = 2\n\tr2 = subprog[cb]\n\tr3 = 0\n\tr4 = 0\n\tcall bpf_loop#181\n\tr0 = 0\n\texit\ncb:\n\tr1 = 0\n\t*(u64 *)(r10 -120) = r1\n\tr0 = 0\n\texit`,
    want: 'insn 3: combined stack size of 2 calls is 528. Too large (the limit is 512 bytes)',
    kernel: 'combined stack size of 2 calls is 528. Too large',
  },
];

describe('the 512-byte stack limit', () => {
  for (const c of CASES) {
    it(c.name, () => {
      expect(refusal(parse(c.text), c.arena)).toBe(c.want);
    });
  }
  it("an arena kfunc's ignored stack-pointer argument does not count as stack (depth 0, like the kernel's)", () => {
    expect(frontEnd(parse(FUZZ_CASE), feEnv(true)).stackDepth).toEqual([0]);
  });
  it("bpf_loop's context 600 bytes down counts for nothing: depth 24, the inlined loop's slots (the kernel's stack_depths: 24, 0)", () => {
    const c = CASES.find((x) => x.name.includes('bpf_loop'))!;
    expect(frontEnd(parse(c.text), feEnv(false)).stackDepth).toEqual([24, 0]);
  });
  it('an xlated program may go below 512 bytes (the verifier adds may_goto and bpf_loop slots after the check)', () => {
    const p = parse('\tr1 = 0\n\t*(u64 *)(r10 -520) = r1\n\tr0 = 0\n\texit');
    expect(stackDepths(p, { dialect: 'kernel-xlated' })).toEqual([520]);
  });
});

const avail = bpfAvailability();
const describeLive = avail.ok ? describe : describe.skip;
if (!avail.ok) console.log(`stack-limit kernel checks skipped: bpf() unavailable (${avail.reason})`);

describeLive('the running kernel agrees', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const env: RunEnv = { arena: c.arena ? { pages: 4, flags: 0, map_extra: 0n } : null, kfuncs: c.arena ? KFUNCS : {}, prefault: {}, ctx: '' };
      let log = 'accepted';
      try {
        runInKernel(encode(parse(c.text)), env, { run: false });
      } catch (e) {
        expect(e).toBeInstanceOf(ProgLoadError);
        log = (e as ProgLoadError).log;
      }
      if (c.kernel === 'accepted') expect(log).toBe('accepted');
      else if (c.kernel === 'refused') expect(log).not.toBe('accepted');
      else expect(log).toContain(c.kernel);
    });
  }
});
