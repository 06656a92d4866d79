// Every error class of the front end (src/jit/frontend) not covered by test/frontend: each names the
// instruction. Programs that the structural validator refuses first reach the front end's own checks through
// functionRanges()/stackDepths() (used on kernel-xlated input, where the validator is optional).
import { describe, expect, it } from 'vitest';
import { makeProgram, type Insn, type Program } from '../../src/isa/insn.js';
import { parse } from '../../src/isa/parse.js';
import { frontEnd, functionRanges, stackDepths, type FrontEndEnv } from '../../src/jit/frontend/index.js';
import { analyze } from '../../src/jit/frontend/analysis.js';
import { SlotProgram } from '../../src/jit/frontend/slots.js';
import { bpfErrorMessage } from '../helpers/errors.js';

type Raw = Omit<Insn, 'pc'>;
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0, imm2?: number): Raw =>
  imm2 === undefined ? { code, dst, src, off, imm } : { code, dst, src, off, imm, imm2 };
const EXIT = I(0x95);
const MOV0 = I(0xb7);
const CALL_BASE = 0xffffffff81000000n;
const ARENA = { mapPtr: 0xffff888100001000n, userVmStart: 0x100000000n, kernVmStart: 0xffffc90000000000n, flags: 0 };
const ENV: FrontEndEnv = {
  callBase: CALL_BASE,
  resolveCall: (t) => CALL_BASE + BigInt(t.kind === 'helper' ? t.id * 16 : 0x100000),
  kfuncs: { '0x101': 'bpf_arena_alloc_pages' },
  jiffiesAddr: 0xffffffff82a05000n,
};

const error = bpfErrorMessage;
const fe = (p: Program, env: Partial<FrontEndEnv> = {}): string => error(() => frontEnd(p, { ...ENV, ...env }));

describe('front end refusals name the instruction', () => {
  it('recursion', () => {
    expect(fe(parse('call f\nexit\nf:\ncall f\nr0 = 0\nexit'))).toBe('insn 2: recursive call from insn 2 to function at insn 2');
  });
  it('a call chain deeper than 8 frames', () => {
    const lines = ['call f1', 'exit'];
    for (let i = 1; i <= 8; i++) lines.push(`f${i}:`, i < 8 ? `call f${i + 1}` : 'r0 = 1', 'exit');
    expect(fe(parse(lines.join('\n')))).toBe('insn 14: the call stack of 9 frames is too deep');
  });
  it('addr_space_cast without an arena', () => {
    expect(fe(makeProgram([I(0xbf, 1, 1, 1, 1), MOV0, EXIT]))).toBe('insn 0: addr_space_cast insn can only be used in a program that has an associated arena');
  });
  it('addr_space_cast between other address spaces (the validator refuses it first; stackDepths reaches the check)', () => {
    expect(fe(makeProgram([I(0xbf, 1, 1, 1, 2), MOV0, EXIT]), { arena: ARENA })).toMatch(/^insn 0: addr_space_cast /);
    expect(error(() => stackDepths(makeProgram([I(0xbf, 1, 1, 1, 2), MOV0, EXIT]), { hasArena: true }))).toBe(
      'insn 0: addr_space_cast insn can only convert between address space 1 and 0',
    );
  });
  it('legacy packet access', () => {
    expect(fe(makeProgram([I(0xbf, 6, 1), I(0x30, 0, 0, 0, 4), EXIT]))).toBe('insn 1: BPF_LD_[ABS|IND] instructions are not supported by this front end');
  });
  it('bpf_jiffies64 without the address of jiffies', () => {
    expect(fe(makeProgram([I(0x85, 0, 0, 0, 118), EXIT]), { jiffiesAddr: undefined })).toBe(
      'insn 0: bpf_jiffies64 is inlined by the verifier: the address of jiffies is needed (jiffiesAddr)',
    );
  });
  it('bpf_tail_call', () => {
    expect(fe(makeProgram([I(0x85, 0, 0, 0, 12), EXIT]))).toBe('insn 0: bpf_tail_call is not supported by this front end');
  });
  it('a helper the call base cannot reach', () => {
    expect(fe(makeProgram([I(0x85, 0, 0, 0, 5), EXIT]), { resolveCall: () => CALL_BASE + (1n << 32n) })).toBe('insn 0: address of helper #5 is out of range of the call base');
  });
  it('a kfunc call not in the kfunc table', () => {
    expect(fe(makeProgram([I(0x85, 0, 2, 0, 0x999), MOV0, EXIT]))).toBe('insn 0: kfunc call imm 0x999 is not in the kfunc table');
  });
  it('ld_imm64 of a map the environment does not have', () => {
    expect(fe(makeProgram([I(0x18, 1, 1, 0, 3, 0), MOV0, EXIT]))).toBe('insn 0: ld_imm64 refers to map 3, which the environment does not provide');
    expect(fe(makeProgram([I(0x18, 1, 2, 0, 3, 8), MOV0, EXIT]))).toBe('insn 0: ld_imm64 refers to a value of map 3, which the environment does not provide');
  });
  it('ld_imm64 of a BTF object', () => {
    expect(fe(makeProgram([I(0x18, 1, 3, 0, 3, 0), MOV0, EXIT]))).toBe('insn 0: ld_imm64 with src_reg 3 is not supported');
  });
  it('a jump that the verifier rewrite pushes past the 16-bit range', () => {
    // if r1 == 0 goto +32767 over a signed division, which the verifier's div/mod patch makes 8 slots long
    const body: Raw[] = [I(0xb7, 1), I(0xb7, 2, 0, 0, 3), I(0x15, 1, 0, 32767, 0), I(0x3f, 1, 2, 1)];
    for (let i = 0; i < 32766; i++) body.push(I(0x07, 1, 0, 0, 1));
    body.push(MOV0, EXIT);
    expect(fe(makeProgram(body), { visited: new Set(Array.from({ length: body.length }, (_, i) => i)) })).toBe('insn 2: cannot be patched due to 16-bit range');
  });
});

describe('the analysis budget', () => {
  it('a program that needs more instruction visits than allowed names where it stopped', () => {
    // 200 two-way branches on an unknown value: 8 path states per instruction, then widening
    const body: Raw[] = [I(0x79, 1, 1), I(0xb7, 2)];
    for (let i = 0; i < 200; i++) body.push(I(0x25, 1, 0, 1, i), I(0x07, 2, 0, 0, 1));
    body.push(MOV0, EXIT);
    const p = SlotProgram.fromProgram(makeProgram(body));
    const starts = [0, p.slots.length];
    expect(error(() => analyze(p.slots, starts, { hasArena: false, decide: true, xlated: false, maxSteps: 1000 }))).toMatch(
      /^insn \d+: the program is too complex to analyse \(more than 1000 instruction visits\)$/,
    );
    // the default budget (2 000 000) analyses it
    expect(analyze(p.slots, starts, { hasArena: false, decide: true, xlated: false }).visited[body.length - 1]).toBe(1);
  });
});

describe('function boundaries (check_subprogs) name the instruction', () => {
  const ranges = (insns: Raw[]): string => error(() => functionRanges(makeProgram(insns)));
  it('an empty program', () => {
    expect(ranges([])).toBe('insn 0: the program is empty');
  });
  it('a call outside the program', () => {
    expect(ranges([I(0x85, 0, 1, 0, 5), EXIT])).toBe('insn 0: function call target 6 is outside the program or inside ld_imm64');
  });
  it('a jump out of its function', () => {
    expect(ranges([I(0x85, 0, 1, 0, 2), I(0x05, 0, 0, 1), EXIT, MOV0, EXIT])).toBe('insn 1: jump out of range from insn 1 to 3');
  });
  it('a jump into ld_imm64', () => {
    expect(ranges([I(0x05, 0, 0, 1), I(0x18, 1, 0, 0, 0, 0), EXIT])).toBe('insn 0: jump into the middle of ld_imm64 insn 1');
  });
  it('a function that does not end in exit or ja', () => {
    expect(ranges([MOV0, EXIT, MOV0])).toBe('insn 2: last insn is not an exit or jmp');
  });
});
