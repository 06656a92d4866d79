// Encodings of single BPF instructions, checked against an independent assembler (keystone) or, for
// the kernel's non-canonical choices, against bytes seen in the kernel's own images.
// Coverage rules (after Cranelift's emit tests): one low and one r8..r15 register per form, never two
// registers sharing low bits in one case, rbp/r13 (and the arena's r12 index) as bases, immediates
// and displacements 0, simm8 edges (127/-128/128) and simm32.
// BPF→x86: r0 rax, r1 rdi, r2 rsi, r3 rdx, r4 rcx, r5 r8, r6 rbx, r7 r13, r8 r14, r9 r15, r10 rbp.
import { beforeAll, describe, expect, test } from 'vitest';
import { makeProgram, type Insn } from '../../src/isa/insn.js';
import { jit, type JitExtraOptions } from '../../src/jit/index.js';
import { assembler } from './keystone.js';

type I = Omit<Insn, 'pc'>;
const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): I => ({ code, dst, src, off, imm });
const EXIT = ins(0x95);
const ARENA: JitExtraOptions = { kernVmStart: 0xffffc90002c81000n, userVmStart: 0x100000000n };

/** The bytes the JIT emits for the first instruction of [insn, exit]. */
function bytesOf(insn: I, opts: JitExtraOptions = {}, extra: I[] = []): string {
  const prog = makeProgram([insn, ...extra, EXIT]);
  const f = jit(prog, opts).functions[0]!;
  const end = insn.code === 0x18 ? f.addrs[2]! : f.addrs[1]!;
  return Buffer.from(f.image.subarray(f.addrs[0]!, end)).toString('hex');
}

let asm: (text: string) => string;
beforeAll(async () => {
  asm = await assembler();
});

// [name, insn, Intel assembly for keystone, options]
const KEYSTONE_CASES: readonly [string, I, string, JitExtraOptions?][] = [
  // ALU64 / ALU32 with registers
  ['add64 r0, r9', ins(0x0f, 0, 9), 'add rax, r15'],
  ['sub32 w7, w1', ins(0x1c, 7, 1), 'sub r13d, edi'],
  ['xor32 w2, w3', ins(0xac, 2, 3), 'xor esi, edx'],
  // immediates: simm8 edges, then imm32; rax gets the short form
  ['add64 r1, 127', ins(0x07, 1, 0, 0, 127), 'add rdi, 127'],
  ['add64 r1, -128', ins(0x07, 1, 0, 0, -128), 'add rdi, -128'],
  ['add64 r1, 128', ins(0x07, 1, 0, 0, 128), 'add rdi, 128'],
  ['add64 r0, 1000 (short rax form)', ins(0x07, 0, 0, 0, 1000), 'add rax, 1000'],
  ['and32 w7, 0xff', ins(0x54, 7, 0, 0, 0xff), 'and r13d, 255'],
  ['or64 r9, 0x12345678', ins(0x47, 9, 0, 0, 0x12345678), 'or r15, 0x12345678'],
  ['sub64 r5, 0 (still emitted)', ins(0x17, 5, 0, 0, 0), 'sub r8, 0'],
  ['neg64 r8', ins(0x87, 8), 'neg r14'],
  ['neg32 w1', ins(0x84, 1), 'neg edi'],
  // moves
  ['mov64 r3 = 5 (zero-extending mov r32)', ins(0xb7, 3, 0, 0, 5), 'mov edx, 5'],
  ['mov64 r3 = -5 (sign-extending imm32)', ins(0xb7, 3, 0, 0, -5), 'mov rdx, -5'],
  ['mov64 r9 = 0 (xor)', ins(0xb7, 9, 0, 0, 0), 'xor r15d, r15d'],
  ['mov32 w3 = -5 (no sign propagation)', ins(0xb4, 3, 0, 0, -5), 'mov edx, 0xfffffffb'],
  ['mov64 r6 = r7', ins(0xbf, 6, 7), 'mov rbx, r13'],
  ['mov32 w2 = w2 (kept: zero-extends)', ins(0xbc, 2, 2), 'mov esi, esi'],
  ['movsx64 r0 = (s8) r4', ins(0xbf, 0, 4, 8), 'movsx rax, cl'],
  ['movsx64 r7 = (s16) r1', ins(0xbf, 7, 1, 16), 'movsx r13, di'],
  ['movsx64 r2 = (s32) r9', ins(0xbf, 2, 9, 32), 'movsxd rsi, r15d'],
  ['movsx32 w8 = (s16) w3', ins(0xbc, 8, 3, 16), 'movsx r14d, dx'],
  ['ld_imm64 r1 = 0x123456789', { ...ins(0x18, 1, 0, 0, 0x23456789), imm2: 1 }, 'movabs rdi, 0x123456789'],
  ['ld_imm64 r7 = 0xffffffff (u32: mov r32)', { ...ins(0x18, 7, 0, 0, -1), imm2: 0 }, 'mov r13d, 0xffffffff'],
  ['ld_imm64 r0 = -2 (s32: sign-extending)', { ...ins(0x18, 0, 0, 0, -2), imm2: -1 }, 'mov rax, -2'],
  // mul
  ['mul64 r6 *= 3', ins(0x27, 6, 0, 0, 3), 'imul rbx, rbx, 3'],
  ['mul32 w9 *= 1000', ins(0x24, 9, 0, 0, 1000), 'imul r15d, r15d, 1000'],
  ['mul64 r1 *= r8', ins(0x2f, 1, 8), 'imul rdi, r14'],
  // shifts: 1 uses D1, other counts C1 (0 included); registers with BMI2
  ['lsh64 r2 <<= 1', ins(0x67, 2, 0, 0, 1), 'shl rsi, 1'],
  ['rsh32 w7 >>= 0', ins(0x74, 7, 0, 0, 0), 'shr r13d, 0'],
  ['arsh64 r8 s>>= 63', ins(0xc7, 8, 0, 0, 63), 'sar r14, 63'],
  ['lsh64 r1 <<= r2 (shlx)', ins(0x6f, 1, 2), 'shlx rdi, rdi, rsi'],
  ['rsh64 r9 >>= r0 (shrx)', ins(0x7f, 9, 0), 'shrx r15, r15, rax'],
  ['arsh32 w5 s>>= w3 (sarx)', ins(0xcc, 5, 3), 'sarx r8d, r8d, edx'],
  ['lsh64 r1 <<= r4 (count already in cl)', ins(0x6f, 1, 4), 'shl rdi, cl'],
  ['lsh64 r1 <<= r2 without BMI2', ins(0x6f, 1, 2), 'push rcx; mov rcx, rsi; shl rdi, cl; pop rcx', { bmi2: false }],
  ['rsh64 r4 >>= r2 without BMI2 (dst is rcx)', ins(0x7f, 4, 2), 'mov r11, rcx; mov rcx, rsi; shr r11, cl; mov rcx, r11', { bmi2: false }],
  // byte swaps
  ['be16 r1', ins(0xdc, 1, 0, 0, 16), 'ror di, 8; movzx edi, di'],
  ['be32 r7', ins(0xdc, 7, 0, 0, 32), 'bswap r13d'],
  ['be64 r0', ins(0xdc, 0, 0, 0, 64), 'bswap rax'],
  ['bswap64 r9 (ALU64 END)', ins(0xd7, 9, 0, 0, 64), 'bswap r15'],
  ['le16 r8', ins(0xd4, 8, 0, 0, 16), 'movzx r14d, r14w'],
  ['le32 r2', ins(0xd4, 2, 0, 0, 32), 'mov esi, esi'],
  // div/mod: rax/rdx saved unless they are the destination; immediates through r11
  ['div64 r1 /= 7', ins(0x37, 1, 0, 0, 7), 'push rax; push rdx; mov r11, 7; mov rax, rdi; xor edx, edx; div r11; mov rdi, rax; pop rdx; pop rax'],
  ['mod32 w0 %= w7', ins(0x9c, 0, 7), 'push rdx; xor edx, edx; div r13d; mov eax, edx; pop rdx'],
  ['sdiv64 r3 /= r0 (divisor in rax goes to r11)', ins(0x3f, 3, 0, 1), 'push rax; mov r11, rax; mov rax, rdx; cqo; idiv r11; mov rdx, rax; pop rax'],
  ['smod32 w8 %= -3', ins(0x94, 8, 0, 1, -3), 'push rax; push rdx; mov r11, -3; mov eax, r14d; cdq; idiv r11d; mov r14d, edx; pop rdx; pop rax'],
  // loads and stores: disp8 edges and disp32; rbp/r13 bases
  ['ldx64 r0 = [r7 + 8]', ins(0x79, 0, 7, 8), 'mov rax, qword ptr [r13 + 8]'],
  ['ldx32 r5 = [r1 - 200]', ins(0x61, 5, 1, -200), 'mov r8d, dword ptr [rdi - 200]'],
  ['ldx32 r2 = [r10 - 4]', ins(0x61, 2, 10, -4), 'mov esi, dword ptr [rbp - 4]'],
  ['ldx8 r1 = [r10 - 1] (movzx r64)', ins(0x71, 1, 10, -1), 'movzx rdi, byte ptr [rbp - 1]'],
  ['ldx16 r9 = [r6 + 128]', ins(0x69, 9, 6, 128), 'movzx r15, word ptr [rbx + 128]'],
  ['ldxsx8 r3 = [r8 + 127]', ins(0x91, 3, 8, 127), 'movsx rdx, byte ptr [r14 + 127]'],
  ['ldxsx32 r7 = [r2 - 128]', ins(0x81, 7, 2, -128), 'movsxd r13, dword ptr [rsi - 128]'],
  ['stx8 [r10 - 8] = r1 (dil needs REX)', ins(0x73, 10, 1, -8), 'mov byte ptr [rbp - 8], dil'],
  ['stx8 [r6 + 128] = r4', ins(0x73, 6, 4, 128), 'mov byte ptr [rbx + 128], cl'],
  ['stx16 [r9 + 2] = r2', ins(0x6b, 9, 2, 2), 'mov word ptr [r15 + 2], si'],
  ['stx64 [r7 - 16] = r5', ins(0x7b, 7, 5, -16), 'mov qword ptr [r13 - 16], r8'],
  ['st32 [r10 - 4] = 0x12345678', ins(0x62, 10, 0, -4, 0x12345678), 'mov dword ptr [rbp - 4], 0x12345678'],
  ['st64 [r8 + 127] = -1', ins(0x7a, 8, 0, 127, -1), 'mov qword ptr [r14 + 127], -1'],
  ['st16 [r9 - 129] = 0x1234', ins(0x6a, 9, 0, -129, 0x1234), 'mov word ptr [r15 - 129], 0x1234'],
  ['st8 [r1 + 1] = 0xab', ins(0x72, 1, 0, 1, 0xab), 'mov byte ptr [rdi + 1], 0xab'],
  // atomics
  ['lock add64 [r1 + 8] += r2', ins(0xdb, 1, 2, 8, 0x00), 'lock add qword ptr [rdi + 8], rsi'],
  ['lock or32 [r7 - 4] |= r8', ins(0xc3, 7, 8, -4, 0x40), 'lock or dword ptr [r13 - 4], r14d'],
  ['fetch_add64', ins(0xdb, 10, 3, -8, 0x01), 'lock xadd qword ptr [rbp - 8], rdx'],
  ['xchg64 (locked)', ins(0xdb, 1, 6, 16, 0xe1), 'lock xchg qword ptr [rdi + 16], rbx'],
  ['cmpxchg32', ins(0xc3, 9, 1, 0x100, 0xf1), 'lock cmpxchg dword ptr [r15 + 256], edi'],
  ['load_acquire64 r0 = [r1 + 8]', ins(0xdb, 0, 1, 8, 0x100), 'mov rax, qword ptr [rdi + 8]'],
  ['store_release8 [r2 + 1] = r1', ins(0xd3, 2, 1, 1, 0x110), 'mov byte ptr [rsi + 1], dil'],
  ['fetch_and64 (cmpxchg loop)', ins(0xdb, 1, 2, 8, 0x51), 'mov r10, rax; L: mov rax, qword ptr [rdi + 8]; mov r11, rax; and r11, rsi; lock cmpxchg qword ptr [rdi + 8], r11; jne L; mov rsi, rax; mov rax, r10'],
  ['fetch_xor32 with r0 as src (loop uses r10)', ins(0xc3, 1, 0, 4, 0xa1), 'mov r10, rax; L: mov eax, dword ptr [rdi + 4]; mov r11d, eax; xor r11d, r10d; lock cmpxchg dword ptr [rdi + 4], r11d; jne L; mov r10d, eax; mov rax, r10'],
  ['nospec', ins(0xc2), 'lfence'],
  // arena: [reg + r12 + off]
  ['arena ldx64 r0 = [r1 + 8]', ins(0x79 - 0x60 + 0xa0, 0, 1, 8), 'mov rax, qword ptr [rdi + r12 + 8]', ARENA],
  ['arena ldx8 r7 = [r10 - 200]', ins(0xb1, 7, 2, -200), 'movzx r13d, byte ptr [rsi + r12 - 200]', ARENA],
  ['arena ldx32 r2 = [r7 + 0]', ins(0xa1, 2, 7, 0), 'mov esi, dword ptr [r13 + r12 + 0]', ARENA],
  ['arena ldxsx16 r3 = [r1 + 2]', ins(0xc9, 3, 1, 2), 'movsx rdx, word ptr [rdi + r12 + 2]', ARENA],
  ['arena stx16 [r6 + 4] = r2', ins(0xab, 6, 2, 4), 'mov word ptr [rbx + r12 + 4], si', ARENA],
  ['arena stx8 [r1 + 0] = r6', ins(0xb3, 1, 6, 127), 'mov byte ptr [rdi + r12 + 127], bl', ARENA],
  ['arena st64 [r9 + 128] = 7', ins(0xba, 9, 0, 128, 7), 'mov qword ptr [r15 + r12 + 128], 7', ARENA],
  ['arena lock add64', ins(0xfb, 1, 2, 8, 0x00), 'lock add qword ptr [rdi + r12 + 8], rsi', ARENA],
  ['arena xchg32', ins(0xe3, 7, 0, -8, 0xe1), 'lock xchg dword ptr [r13 + r12 - 8], eax', ARENA],
  // cast to user: shl / or imm32 (never imm8) / rol / xor r11 / test / cmove
  ['cast_user r1 = r2', ins(0xbf, 1, 2, 1, 0x10000), 'mov edi, esi; shl rdi, 32; or rdi, 0x7f00; rol rdi, 32; xor r11, r11; test edi, edi; cmove rdi, r11', { ...ARENA, userVmStart: 0x7f0000000000n }],
];

// Where the kernel's choice is not what an assembler picks: bytes from the kernel's images.
const KERNEL_CASES: readonly [string, I, string, JitExtraOptions?][] = [
  // "Memory operands always carry a displacement: disp8 even for offset 0 (49 89 47 00)"
  ['stx64 [r9 + 0] = r0 keeps disp8 0', ins(0x7b, 9, 0, 0), '49894700'],
  // "32-bit MOVSX from 8 bits always carries a REX prefix (40 0f be ca)"
  ['movsx32 w4 = (s8) w3 keeps a REX 40', ins(0xbc, 4, 3, 8), '400fbeca'],
  // "Compares before jumps use 83 /7 or 81 /7, never the rax short form"
  ['jeq r0, 1000 uses 81 /7', ins(0x15, 0, 0, 0, 1000), '483de8030000'.replace('483d', '4881f8')],
  // cast to user with dst rax: the short `or rax, imm32` even for a small value (kernel-corpus images)
  ['cast_user r0 = r0', ins(0xbf, 0, 0, 1, 0x10000), '48c1e020480d0100000048c1c0204d31db85c0490f44c3', ARENA],
  // per-CPU address move: add dst, gs:[this_cpu_off] (v00015_s2001)
  ['percpu r0 = r0', ins(0xbf, 0, 0, -1), '654803042528c0b083'],
];

describe('instruction encodings match an independent assembler', () => {
  test.each(KEYSTONE_CASES.map((c) => [c[0], c] as const))('%s', (_n, [, insn, text, opts]) => {
    // One instruction per line; keystone resolves the local label L of the cmpxchg loops.
    const expected = asm(text.replace(/;\s*/g, '\n'));
    const extra = insn.code === 0x15 ? [ins(0xb7, 0)] : [];
    expect(bytesOf(insn, opts ?? {}, extra)).toBe(expected);
  });
});

describe('kernel-specific encodings (bytes from the kernel images)', () => {
  test.each(KERNEL_CASES.map((c) => [c[0], c] as const))('%s', (_n, [, insn, hex, opts]) => {
    const extra = insn.code === 0x15 ? [ins(0xb7, 0)] : [];
    const got = bytesOf(insn, opts ?? {}, extra);
    expect(got.startsWith(hex)).toBe(true);
  });
});
