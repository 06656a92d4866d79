// Layout rules of the kernel's pass loop (short vs near jumps, ja +0, shared epilogue), the stack depth
// derived from the code, the per-slot offsets, and errors for input the JIT cannot lower.
// Expected jump bytes are x86 encodings (Jcc rel8 = 7x ib, rel32 = 0f 8x id) under the kernel's rule
// that a forward rel8 may reach at most 123 bytes.
import { describe, expect, test } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { makeProgram, type Insn } from '../../src/isa/insn.js';
import { jit, jitImage } from '../../src/jit/index.js';

type I = Omit<Insn, 'pc'>;
const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): I => ({ code, dst, src, off, imm });
const EXIT = ins(0x95);
const MOV32_IMM = ins(0xb4, 0, 0, 0, 0x12345678); // b8 78 56 34 12: 5 bytes
const NEG64 = ins(0x87, 0); // 48 f7 d8: 3 bytes
const ADD64_1 = ins(0x07, 0, 0, 0, 1); // 48 83 c0 01: 4 bytes
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function jumpBytes(body: I[]): string {
  const prog = makeProgram([ins(0x15, 1, 0, body.length, 0), ...body, EXIT]);
  const f = jit(prog).functions[0]!;
  // test rdi, rdi (48 85 ff) then the jump
  return hex(f.image.subarray(f.addrs[0]! + 3, f.addrs[1]!));
}

describe('jump forms', () => {
  test('a forward jump over 123 bytes is short', () => {
    expect(jumpBytes([...Array(24).fill(MOV32_IMM), NEG64])).toBe('747b');
  });
  test('a forward jump over 124 bytes is near (is_imm8_jmp_offset caps at 123)', () => {
    expect(jumpBytes([...Array(24).fill(MOV32_IMM), ADD64_1])).toBe('0f847c000000');
  });
  // Backward offsets are taken from the jump's own end in the previous pass, which was the 6-byte
  // near form in pass 1: a body of 119 bytes gives -128 there (then -124 once short), 120 bytes -129.
  const backward = (body: I[]): string => {
    const prog = makeProgram([...body, ins(0x15, 1, 0, -(body.length + 1), 0), EXIT]);
    const f = jit(prog).functions[0]!;
    return hex(f.image.subarray(f.addrs[body.length]! + 3, f.addrs[body.length + 1]!));
  };
  test('a backward jump becomes short when its previous near form reached -128', () => {
    expect(backward([...Array(23).fill(MOV32_IMM), ADD64_1])).toBe('7484');
  });
  test('a backward jump stays near when its near form needs -129', () => {
    expect(backward(Array(24).fill(MOV32_IMM))).toBe('0f847fffffff');
  });
  test('ja +0 emits nothing; ja -1 is a 2-byte self loop', () => {
    const prog = makeProgram([ins(0x05, 0, 0, 0), ins(0x05, 0, 0, -1), EXIT]);
    const f = jit(prog).functions[0]!;
    expect(f.addrs[1]! - f.addrs[0]!).toBe(0);
    expect(hex(f.image.subarray(f.addrs[1]!, f.addrs[2]!))).toBe('ebfe');
  });
  test('the first exit emits the epilogue, later ones jump back to it', () => {
    const prog = makeProgram([ins(0x15, 1, 0, 1, 0), EXIT, EXIT]);
    const f = jit(prog).functions[0]!;
    expect(hex(f.image.subarray(f.addrs[1]!, f.addrs[2]!))).toBe('c9c3');
    expect(hex(f.image.subarray(f.addrs[2]!, f.addrs[3]!))).toBe('ebfc'); // jmp back over leave; ret and itself
  });
  test('ld_imm64: the second slot starts where the next instruction starts', () => {
    const prog = makeProgram([{ ...ins(0x18, 1, 0, 0, 1), imm2: 1 }, EXIT]);
    const f = jit(prog).functions[0]!;
    expect(Array.from(f.addrs)).toEqual([12, 22, 22, 24]);
  });
});

describe('prologue and stack depth', () => {
  const prologue = (insns: I[]): string => {
    const f = jit(makeProgram([...insns, EXIT])).functions[0]!;
    return hex(f.image.subarray(0, f.addrs[0]!));
  };
  const NOPS_PUSH = '0f1f4400000f1f00554889e5';
  test('no stack, no callee-saved registers', () => {
    expect(prologue([ins(0xb7, 0)])).toBe(NOPS_PUSH);
  });
  test('depth from the deepest r10 access, rounded up to 8; r6 and r9 pushed', () => {
    expect(prologue([ins(0x73, 10, 6, -13), ins(0xbf, 9, 6)])).toBe(`${NOPS_PUSH}4881ec10000000534157`);
  });
  test('a pointer derived from r10 counts, including one passed to a call', () => {
    const derived = [ins(0xbf, 2, 10), ins(0x07, 2, 0, 0, -40), ins(0x7a, 2, 0, 8, 0)];
    expect(prologue(derived)).toBe(`${NOPS_PUSH}4881ec20000000`);
    const passed = [ins(0xbf, 1, 10), ins(0x07, 1, 0, 0, -64), ins(0x85, 0, 0, 0, 100)];
    expect(prologue(passed)).toBe(`${NOPS_PUSH}4881ec40000000`);
  });
  test('stackDepth option overrides; arena programs push r12 and load kern_vm_start', () => {
    const f = jit(makeProgram([EXIT]), { stackDepth: [20], kernVmStart: 0xffffc90002c81000n }).functions[0]!;
    expect(hex(f.image)).toBe(`${NOPS_PUSH}4881ec18000000415449bc0010c80200c9ffff415cc9c3`);
  });
});

describe('functions', () => {
  test('a bpf-to-bpf call targets the callee image; each function has its own image', () => {
    // main: call +1; exit   sub: r0 = 1; exit
    const prog = makeProgram([ins(0x85, 0, 1, 0, 1), EXIT, ins(0xb7, 0, 0, 0, 1), EXIT]);
    const r = jit(prog, { imageBase: [0xffffffffc0001000n, 0xffffffffc0000800n] });
    expect(r.functions.map((f) => [f.firstPc, f.endPc])).toEqual([[0, 2], [2, 4]]);
    const main = r.functions[0]!;
    const call = main.image.subarray(main.addrs[0]!, main.addrs[1]!);
    const rel = Buffer.from(call).readInt32LE(1);
    expect(call[0]).toBe(0xe8);
    expect(0xffffffffc0001000n + BigInt(main.addrs[0]! + 5 + rel)).toBe(0xffffffffc0000800n);
    expect(hex(jitImage(r))).toBe(hex(main.image) + hex(r.functions[1]!.image));
  });
});

describe('errors name the instruction', () => {
  const err = (insns: I[]): string => {
    try {
      jit(makeProgram(insns));
    } catch (e) {
      expect(e).toBeInstanceOf(BpfError);
      return (e as Error).message;
    }
    return 'no error';
  };
  test.each([
    ['unknown opcode', [ins(0x07), ins(0xff)], 'insn 1: unknown opcode 0xff'],
    ['register r12', [ins(0xb7, 12), EXIT], 'insn 0: invalid register r12'],
    ['helper call without target', [ins(0x85, 0, 0, 0, 0), EXIT], 'insn 0: call with imm 0'],
    ['jump outside the function', [ins(0x05, 0, 0, 5), EXIT], 'insn 0: jump target 6 is outside the function'],
    ['may_goto not rewritten', [ins(0xe5, 0, 0, 0), EXIT], 'insn 0: may_goto must be rewritten'],
    ['1-byte RMW atomic', [ins(0xd3, 1, 2, 0, 0), EXIT], 'insn 0: 1- and 2-byte RMW atomics are not supported'],
    ['call into the middle of nowhere', [ins(0x85, 0, 1, 0, 7), EXIT], 'insn 0: call target 8 is not an instruction'],
    // The first pass lowers the frequent forms from the table's words; what it leaves (a register that does not
    // exist, a form without an encoding) is reported by the general lowering, naming the instruction.
    ['ALU source r13', [ins(0x07), ins(0x0f, 1, 13), EXIT], 'insn 1: invalid register r13'],
    ['mul destination r14', [ins(0x27, 14, 0, 0, 3), EXIT], 'insn 0: invalid register r14'],
    ['load base r15', [ins(0x79, 1, 15, 8), EXIT], 'insn 0: invalid register r15'],
    ['store immediate base r12', [ins(0x7a, 12, 0, -8, 1), EXIT], 'insn 0: invalid register r12'],
    ['store source r12', [ins(0x7b, 10, 12, -8), EXIT], 'insn 0: invalid register r12'],
    ['conditional jump source r15', [ins(0x1d, 1, 15, 0), EXIT], 'insn 0: invalid register r15'],
    ['ld_imm64 into r12', [{ code: 0x18, dst: 12, src: 0, off: 0, imm: 1, imm2: 0 }, EXIT], 'insn 0: invalid register r12'],
    ['8-byte sign-extending load', [ins(0x99, 1, 10, -8), EXIT], 'insn 0: unknown opcode 0x99'],
    ['neg with a register source', [ins(0x8f, 1, 2), EXIT], 'insn 0: unknown opcode 0x8f'],
  ] as const)('%s', (_n, insns, msg) => {
    expect(err([...insns])).toContain(msg);
  });
});
