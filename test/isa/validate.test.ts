// Every validation rule with its exact message. Programs are written in kernel syntax; encodings the
// syntax cannot express use the exact-fields form `.insn`.
import { describe, expect, it } from 'vitest';
import { assertValid, BpfError, formatDiagnostic, makeProgram, parse, validate, type Dialect } from '../../src/index.js';

/** Problems of `body` followed by `exit`, formatted `insn N: reason`. */
function problems(body: string, dialect: Dialect = 'standard'): string[] {
  return validate(parse(`${body}\nexit`), dialect).map(formatDiagnostic);
}

describe('validate: one instruction', () => {
  const cases: [string, string, Dialect?][] = [
    // unknown opcodes
    ['.insn code=0xe4 dst=1', 'insn 0: unknown opcode 0xe4'],
    ['.insn code=0x8c dst=1', 'insn 0: unknown opcode 0x8c (neg takes no source operand)'],
    ['.insn code=0xdf dst=1 imm=16', 'insn 0: unknown opcode 0xdf (bswap has no BPF_X form)'],
    ['.insn code=0x0d dst=1', 'insn 0: unknown opcode 0x0d (indirect jump is not supported)'],
    ['.insn code=0x86', 'insn 0: unknown opcode 0x86 (call exists only in class JMP)'],
    ['.insn code=0x96', 'insn 0: unknown opcode 0x96 (exit is 0x95)'],
    ['.insn code=0xf5', 'insn 0: unknown opcode 0xf5 (tail calls exist only in the kernel-xlated dialect)'],
    ['.insn code=0xf6', 'insn 0: unknown opcode 0xf6'],
    ['tail_call#-1', 'insn 0: imm of a tail call must be 0 (indirect) or a poke index + 1, got -1', 'kernel-xlated'],
    ['.insn code=0xe6', 'insn 0: unknown opcode 0xe6 (may_goto is 0xe5)'],
    ['.insn code=0x38 imm=1', 'insn 0: unknown opcode 0x38'],
    ['.insn code=0x99 dst=1 src=2', 'insn 0: unknown opcode 0x99'],
    ['.insn code=0x82 dst=1', 'insn 0: unknown opcode 0x82'],
    ['.insn code=0x00', 'insn 0: unknown opcode 0x00'],
    ['r0 = *(u64 __arena *)(r1 +0)', 'insn 0: unknown opcode 0xb9 (PROBE_* modes exist only in the kernel-xlated dialect)'],
    ['lock *(u64 __arena *)(r1 +0) += r2', 'insn 0: unknown opcode 0xfb (PROBE_* modes exist only in the kernel-xlated dialect)'],
    ['nospec', 'insn 0: unknown opcode 0xc2'],
    ['r0 = *(u32 __probe *)(r1 +0)', 'insn 0: unknown opcode 0x21 (PROBE_* modes exist only in the kernel-xlated dialect)'],
    ['r0 = *(s32 __probe *)(r1 +0)', 'insn 0: unknown opcode 0x41 (PROBE_* modes exist only in the kernel-xlated dialect)'],
    ['.insn code=0x59 dst=1 src=2', 'insn 0: unknown opcode 0x59', 'kernel-xlated'],
    // reserved fields
    ['.insn code=0x07 dst=2 src=1 imm=5', 'insn 0: reserved field src_reg must be 0, got 1'],
    ['.insn code=0x07 dst=2 off=3 imm=5', 'insn 0: reserved field off must be 0, got 3'],
    ['.insn code=0x0f dst=2 src=3 imm=5', 'insn 0: reserved field imm must be 0, got 5'],
    ['.insn code=0x87 dst=2 imm=1', 'insn 0: reserved field imm must be 0, got 1'],
    ['.insn code=0xd4 dst=2 src=1 imm=16', 'insn 0: reserved field src_reg must be 0, got 1'],
    ['.insn code=0x05 off=0 imm=1', 'insn 0: reserved field imm must be 0, got 1'],
    ['.insn code=0x06 off=1 imm=0', 'insn 0: reserved field off must be 0, got 1'],
    ['.insn code=0x05 dst=1', 'insn 0: reserved field dst_reg must be 0, got 1'],
    ['.insn code=0x95 imm=1', 'insn 0: reserved field imm must be 0, got 1'],
    ['.insn code=0x85 dst=1 imm=5', 'insn 0: reserved field dst_reg must be 0, got 1'],
    ['.insn code=0x85 off=1 imm=5', 'insn 0: reserved field off must be 0, got 1'],
    ['.insn code=0x8d dst=2 imm=5', 'insn 0: reserved field imm must be 0, got 5'],
    ['.insn code=0x15 dst=1 src=2 imm=0 off=0', 'insn 0: reserved field src_reg must be 0, got 2'],
    ['.insn code=0x1d dst=1 src=2 imm=7 off=0', 'insn 0: reserved field imm must be 0, got 7'],
    ['.insn code=0x18 dst=1 off=1 imm=0 imm2=0', 'insn 0: reserved field off must be 0, got 1'],
    ['.insn code=0x79 dst=1 src=2 imm=4', 'insn 0: reserved field imm must be 0, got 4'],
    ['.insn code=0x7a dst=1 src=2 imm=4', 'insn 0: reserved field src_reg must be 0, got 2'],
    ['.insn code=0x7b dst=1 src=2 imm=4', 'insn 0: reserved field imm must be 0, got 4'],
    ['.insn code=0x20 dst=1 imm=4', 'insn 0: reserved field dst_reg must be 0, got 1'],
    ['.insn code=0xe5 src=1 off=0', 'insn 0: src_reg of may_goto (JCOND) must be 0, got 1'],
    // registers
    ['r11 = 1', 'insn 0: dst_reg r11 (AX) exists only in the kernel-xlated dialect'],
    ['r1 = r12', 'insn 0: src_reg r12 does not exist (registers are r0..r10)'],
    ['r12 = 1', 'insn 0: dst_reg r12 does not exist (registers are r0..r10)', 'kernel-xlated'],
    ['callx r11', 'insn 0: dst_reg r11 (AX) exists only in the kernel-xlated dialect'],
    // writes to r10
    ['r10 += 8', 'insn 0: r10 is the read-only frame pointer and cannot be written'],
    ['w10 = w1', 'insn 0: r10 is the read-only frame pointer and cannot be written'],
    ['r10 = *(u64 *)(r1 +0)', 'insn 0: r10 is the read-only frame pointer and cannot be written'],
    ['r10 = 0x1234', 'insn 0: r10 is the read-only frame pointer and cannot be written'],
    ['r10 = atomic64_fetch_add((u64 *)(r1 +0), r10)', 'insn 0: r10 is the read-only frame pointer and cannot be written'],
    ['r10 = load_acquire((u64 *)(r1 +0))', 'insn 0: r10 is the read-only frame pointer and cannot be written'],
    // operation-specific fields
    ['.insn code=0x3f dst=1 src=2 off=2', 'insn 0: off of div/mod must be 0 (unsigned) or 1 (signed), got 2'],
    ['.insn code=0xbf dst=1 src=2 off=24', 'insn 0: off of mov must be 0, 8, 16, 32 (movsx) or 1 (addr_space_cast), got 24'],
    ['.insn code=0xbc dst=1 src=2 off=32', 'insn 0: off of mov32 must be 0, 8 or 16 (movsx), got 32'],
    ['r1 = addr_space_cast(r2, 2, 1)', 'insn 0: addr_space_cast converts between address spaces 0 and 1 only (imm 0x1 or 0x10000), got 0x20001'],
    ['r1 = &(void __percpu *)(r1)', 'insn 0: per-CPU address move (mov with off -1) exists only in the kernel-xlated dialect'],
    ['w0 = zext(w0)', 'insn 0: reserved field imm must be 0, got 1'],
    ['.insn code=0xd7 dst=1 imm=8', 'insn 0: byte swap width must be 16, 32 or 64, got 8'],
    ['.insn code=0x85 src=3 imm=1', 'insn 0: src_reg of call must be 0 (helper), 1 (bpf-to-bpf) or 2 (kfunc), got 3'],
    ['.insn code=0x18 dst=1 src=7 imm2=0', 'insn 0: src_reg of ld_imm64 must be 0..6 (BPF_PSEUDO_*), got 7'],
    ['.insn code=0x18 dst=1 src=1 imm2=3', 'insn 0: second slot imm of ld_imm64 with src_reg 1 must be 0, got 3'],
    ['r1 = map[fd:0]', 'insn 0: src_reg of ld_imm64 must be 0 or 4 after the verifier, got 1', 'kernel-xlated'],
    ['may_goto pc+0', 'insn 0: may_goto does not exist after the verifier (it is rewritten)', 'kernel-xlated'],
    ['r0 = *(u8 *)skb[12]', 'insn 0: legacy packet load (LD_ABS/LD_IND) does not exist after the verifier', 'kernel-xlated'],
    ['.insn code=0xdb dst=1 src=2 imm=0x10', 'insn 0: unknown atomic operation imm 0x10'],
    ['.insn code=0xd3 dst=1 src=2 imm=0', 'insn 0: atomic read-modify-write needs a 32- or 64-bit size'],
  ];
  it.each(cases)('%s', (body, message, dialect) => {
    expect(problems(body, dialect ?? 'standard')).toEqual([message]);
  });
});

describe('validate: valid forms', () => {
  const ok: [string, Dialect?][] = [
    ['r1 = addr_space_cast(r2, 1, 0)'],
    ['r1 s/= -3'],
    ['w1 s%= w2'],
    ['r1 = (s32)r2'],
    ['w1 = (s16)w2'],
    ['r1 = bswap64 r1'],
    ['r1 = be16 r1'],
    ['r1 = -r1'],
    ['callx r3'],
    ['call bpf_ktime_get_ns#5'],
    ['call kernel-function#1234'],
    ['.insn code=0x85 src=2 off=3 imm=1234'],
    ['gotol pc+0'],
    ['may_goto pc+0'],
    ['r0 = *(u16 *)skb[r1 + 4]'],
    ['r1 = map[fd:0][0]+8'],
    ['r1 = btf_id[5][fd:3]'],
    ['r1 = map[idx:2]+16'],
    ['r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)'],
    ['r2 = atomic64_xchg((u64 *)(r1 +0), r2)'],
    ['r2 = load_acquire((u8 *)(r1 +0))'],
    ['store_release((u16 *)(r1 +0), r2)'],
    ['r0 = *(s32 *)(r10 -4)'],
    ['*(u64 *)(r10 -8) = -1'],
    ['r11 = 1', 'kernel-xlated'],
    ['nospec', 'kernel-xlated'],
    ['w0 = zext(w0)', 'kernel-xlated'],
    ['r0 = &(void __percpu *)(r0)', 'kernel-xlated'],
    ['r0 = *(s16 __arena *)(r1 +0)', 'kernel-xlated'],
    ['r0 = atomic64_fetch_or((u64 __arena *)(r1 +0), r0)', 'kernel-xlated'],
    ['*(u8 __arena *)(r1 +0) = 1', 'kernel-xlated'],
    ['r0 = *(u8 __probe *)(r1 +0)', 'kernel-xlated'],
    ['r0 = *(s8 __probe *)(r1 +0)', 'kernel-xlated'],
    ['call unknown#-5000', 'kernel-xlated'],
    ['tail_call', 'kernel-xlated'],
    ['tail_call#1', 'kernel-xlated'],
  ];
  it.each(ok)('%s', (body, dialect) => {
    expect(problems(body, dialect ?? 'standard')).toEqual([]);
  });
});

describe('validate: control flow', () => {
  const v = (text: string) => validate(parse(text)).map(formatDiagnostic);
  it('empty program', () => {
    expect(validate(makeProgram([]))).toEqual([{ message: 'program is empty' }]);
  });
  it('jump out of range, both ways', () => {
    expect(v('goto pc+1\nexit')).toEqual(['insn 0: jump out of range: target 2 is outside the program (0..1)']);
    expect(v('r0 = 0\nif r0 == 0x0 goto pc-3\nexit')).toEqual(['insn 1: jump out of range: target -1 is outside the program (0..2)']);
    expect(v('gotol pc+7\nexit')).toEqual(['insn 0: jump out of range: target 8 is outside the program (0..1)']);
  });
  it('jump into the second slot of ld_imm64', () => {
    expect(v('goto pc+1\nr1 = 0x1\nexit')).toEqual(['insn 0: jump into the second slot of ld_imm64 at 1']);
  });
  it('call out of range', () => {
    expect(v('call pc+5\nexit')).toEqual(['insn 0: call out of range: target 6 is outside the program (0..1)']);
  });
  it('falling off the end', () => {
    expect(v('r0 = 0')).toEqual(['insn 0: program can fall off its end: the last instruction must be exit or an unconditional jump']);
    expect(v('r0 = 0\nif r0 == 0x0 goto pc-2')).toEqual(['insn 1: program can fall off its end: the last instruction must be exit or an unconditional jump']);
    expect(v('l: r0 = 0\ngoto l')).toEqual([]);
    expect(v('r0 = 0\ngotol pc-2')).toEqual([]);
  });
  it('a function must not fall into the next one, nor jump into it', () => {
    expect(v('call f\nexit\nf: r0 = 1')).toEqual(['insn 2: program can fall off its end: the last instruction must be exit or an unconditional jump']);
    expect(v('call f\nr0 = 0\nf: r0 = 1\nexit')).toEqual([
      'insn 1: function 0..1 falls through into the function at 2: its last instruction must be exit or an unconditional jump',
    ]);
    expect(v('call f\ngoto g\nexit\nf: r0 = 1\ng: exit')).toEqual(['insn 1: jump to 4 leaves its function (0..2)']);
    expect(v('r1 = subprog[f]\nexit\nf: r0 = 2\nexit')).toEqual([]);
  });
  it('reports every problem, and assertValid throws them all in one BpfError', () => {
    const prog = parse('r10 = 1\n.insn code=0xe4\nr11 = 2\ngoto pc+9');
    let err: unknown;
    try {
      assertValid(prog);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).message.split('\n')).toEqual([
      'insn 0: r10 is the read-only frame pointer and cannot be written',
      'insn 1: unknown opcode 0xe4',
      'insn 2: dst_reg r11 (AX) exists only in the kernel-xlated dialect',
      'insn 3: jump out of range: target 13 is outside the program (0..3)',
    ]);
  });
});
