// Golden encodings: one BPF instruction → the x86-64 that Linux 6.18's JIT emits for it (BMI2 CPU).
// The expected side is Intel-syntax text assembled by keystone (an independent assembler), written from
// the rules of arch/x86/net/bpf_jit_comp.c; where keystone picks a different (shorter) encoding than the
// kernel, the row gives the kernel's bytes instead, taken from the kernel corpus images (named in `source`).
//
// Coverage rules (after Cranelift's emit tests): one low register and one r8–r15 register per form;
// never pair registers that share their low 3 bits (rax/r8 = BPF r0/r5, rdi/r15 = r1/r9, rsi/r14 = r2/r8,
// rbp/r13 = r10/r7) in a two-register form; rbp (r10) and r13 (r7) as bases; immediates 0, 1, -1, 127, 128,
// -128, -129, INT32_MIN, INT32_MAX; displacements that need disp8 and disp32.
//
// `{+N}` / `{-N}` in x86 text is an absolute address N bytes after / before the start of the instruction's
// code (jump targets). `prog` lists the program around the instruction under test (index `at`, default 0);
// an `exit` is appended.
import type { Dialect } from '../../src/isa/insn.js';

export interface GoldenRow {
  readonly prog: readonly string[];
  readonly at?: number;
  /** Expected x86 (Intel syntax, `;`-separated) for keystone… */
  readonly x86?: string;
  /** …or the kernel's bytes, with where they were seen. */
  readonly bytes?: string;
  readonly source?: string;
  readonly dialect?: Dialect;
  readonly bmi2?: boolean;
}

const r = (bpf: string, x86: string, extra: Partial<GoldenRow> = {}): GoldenRow => ({ prog: [bpf], x86, ...extra });
const arena = (bpf: string, x86: string): GoldenRow => r(bpf, x86, { dialect: 'kernel-xlated' });

/** user_vm_start used by the arena rows: its upper half 0x7f12 needs an imm32. */
export const USER_VM_START = 0x7f1200000000n;
export const KERN_VM_START = 0xffffc90000008000n;
export const CALL_BASE = 0xffffffff81000000n;
export const IMAGE_BASE = 0xffffffffc0001000n;

export const ROWS: readonly GoldenRow[] = [
  // ALU64 / ALU32, register source: `op dst, src` with the MR form (01/29/21/09/31 /r).
  r('r0 += r1', 'add rax, rdi'),
  r('r5 += r7', 'add r8, r13'),
  r('r1 -= r8', 'sub rdi, r14'),
  r('r6 &= r9', 'and rbx, r15'),
  r('r2 |= r3', 'or rsi, rdx'),
  r('r4 ^= r5', 'xor rcx, r8'),
  r('w0 += w1', 'add eax, edi'),
  r('w7 -= w8', 'sub r13d, r14d'),
  r('w3 |= w9', 'or edx, r15d'),
  r('w6 &= w2', 'and ebx, esi'),
  r('w4 ^= w7', 'xor ecx, r13d'),
  // MOV register; a 64-bit self-move emits nothing, a 32-bit one is kept (zero-extension).
  r('r0 = r1', 'mov rax, rdi'),
  r('r9 = r10', 'mov r15, rbp'),
  r('r3 = r3', ''),
  r('w3 = w3', 'mov edx, edx'),
  r('w7 = w6', 'mov r13d, ebx'),
  r('w1 = w8', 'mov edi, r14d'),
  // MOVSX.
  r('r1 = (s8)r2', 'movsx rdi, sil'),
  r('r1 = (s16)r7', 'movsx rdi, r13w'),
  r('r8 = (s32)r1', 'movsxd r14, edi'),
  r('w1 = (s16)w2', 'movsx edi, si'),
  r('w7 = (s8)w9', 'movsx r13d, r15b'),
  r('w1 = (s8)w2', 'movsx edi, sil'),
  // MOV immediate: 0 → xor r32; non-negative → mov r32, imm32; negative 64-bit → mov r64, simm32.
  r('r0 = 0', 'xor eax, eax'),
  r('r5 = 0', 'xor r8d, r8d'),
  r('r1 = 1', 'mov edi, 1'),
  r('r1 = -1', 'mov rdi, -1'),
  r('r9 = 2147483647', 'mov r15d, 0x7fffffff'),
  r('r9 = -2147483648', 'mov r15, -0x80000000'),
  r('w1 = -1', 'mov edi, 0xffffffff'),
  r('w5 = 0', 'xor r8d, r8d'),
  r('w7 = 128', 'mov r13d, 128'),
  // ld_imm64: u32 → mov r32; s32 → mov r64, simm32; otherwise movabs.
  r('r1 = 0x123456789 ll', 'movabs rdi, 0x123456789'),
  r('r7 = 0x8000000000000000 ll', 'movabs r13, 0x8000000000000000'),
  r('r1 = 0x7fffffff ll', 'mov edi, 0x7fffffff'),
  r('r1 = 0xffffffff ll', 'mov edi, 0xffffffff'),
  r('r1 = 0xffffffff80000000 ll', 'mov rdi, -0x80000000'),
  r('r1 = 0x0 ll', 'xor edi, edi'),
  r('r5 = 0xffffffffffffffff ll', 'mov r8, -1'),
  // ALU immediate: 83 /x ib when it fits in s8 (0 included), short rax form, else 81 /x id.
  r('r0 += 1', 'add rax, 1'),
  r('r0 += 128', 'add rax, 128'),
  r('r1 += 128', 'add rdi, 128'),
  r('r1 += -128', 'add rdi, -128'),
  r('r1 += -129', 'add rdi, -129'),
  r('r1 += 0', 'add rdi, 0'),
  r('r1 += 127', 'add rdi, 127'),
  r('w7 -= 127', 'sub r13d, 127'),
  r('r6 &= 2147483647', 'and rbx, 0x7fffffff'),
  r('r6 |= -2147483648', 'or rbx, -0x80000000'),
  r('w0 ^= 1000', 'xor eax, 1000'),
  r('w9 |= -1', 'or r15d, -1'),
  r('r8 ^= -1', 'xor r14, -1'),
  r('w0 -= -129', 'sub eax, -129'),
  // MUL.
  r('r0 *= r1', 'imul rax, rdi'),
  r('w5 *= w7', 'imul r8d, r13d'),
  r('r1 *= 3', 'imul rdi, rdi, 3'),
  r('r1 *= 1000', 'imul rdi, rdi, 1000'),
  r('w9 *= -1', 'imul r15d, r15d, -1'),
  // DIV/MOD: rax/rdx saved unless dst; divisor in rax/rdx or an immediate goes through r11.
  r('r1 /= r2', 'push rax; push rdx; mov rax, rdi; xor edx, edx; div rsi; mov rdi, rax; pop rdx; pop rax'),
  r('r0 /= r3', 'push rdx; mov r11, rdx; xor edx, edx; div r11; pop rdx'),
  r('w3 %= w0', 'push rax; mov r11, rax; mov eax, edx; xor edx, edx; div r11d; pop rax'),
  r('r1 s/= r2', 'push rax; push rdx; mov rax, rdi; cqo; idiv rsi; mov rdi, rax; pop rdx; pop rax'),
  r('w1 s%= w2', 'push rax; push rdx; mov eax, edi; cdq; idiv esi; mov edi, edx; pop rdx; pop rax'),
  r('r1 /= 10', 'push rax; push rdx; mov r11, 10; mov rax, rdi; xor edx, edx; div r11; mov rdi, rax; pop rdx; pop rax'),
  r('w7 %= 10', 'push rax; push rdx; mov r11, 10; mov eax, r13d; xor edx, edx; div r11d; mov r13d, edx; pop rdx; pop rax'),
  r('r0 %= r8', 'push rdx; xor edx, edx; div r14; mov rax, rdx; pop rdx'),
  // Shifts by immediate: d1 for a count of 1, else c1 ib (a count of 0 is still emitted).
  r('r1 <<= 1', 'shl rdi, 1'),
  r('r1 <<= 0', 'shl rdi, 0'),
  r('w7 >>= 31', 'shr r13d, 31'),
  r('r0 s>>= 63', 'sar rax, 63'),
  r('w5 s>>= 1', 'sar r8d, 1'),
  // Shifts by register: BMI2 shlx/shrx/sarx unless the count is already in rcx (BPF r4).
  r('r1 <<= r2', 'shlx rdi, rdi, rsi'),
  r('w5 >>= w7', 'shrx r8d, r8d, r13d'),
  r('r6 s>>= r0', 'sarx rbx, rbx, rax'),
  r('w9 s>>= w3', 'sarx r15d, r15d, edx'),
  r('r1 <<= r4', 'shl rdi, cl'),
  r('w4 >>= w4', 'shr ecx, cl'),
  // …and without BMI2, through rcx (r11 when dst is rcx).
  r('r1 <<= r2', 'push rcx; mov rcx, rsi; shl rdi, cl; pop rcx', { bmi2: false }),
  r('r4 >>= r2', 'mov r11, rcx; mov rcx, rsi; shr r11, cl; mov rcx, r11', { bmi2: false }),
  r('w7 s>>= w1', 'push rcx; mov rcx, rdi; sar r13d, cl; pop rcx', { bmi2: false }),
  // NEG.
  r('r1 = -r1', 'neg rdi'),
  r('w8 = -w8', 'neg r14d'),
  // END / BSWAP.
  r('r0 = be16 r0', 'ror ax, 8; movzx eax, ax'),
  r('r7 = be16 r7', 'ror r13w, 8; movzx r13d, r13w'),
  r('r1 = be32 r1', 'bswap edi'),
  r('r8 = be64 r8', 'bswap r14'),
  r('r1 = le16 r1', 'movzx edi, di'),
  r('r9 = le16 r9', 'movzx r15d, r15w'),
  r('r1 = le32 r1', 'mov edi, edi'),
  r('r5 = le32 r5', 'mov r8d, r8d'),
  r('r1 = le64 r1', ''),
  r('r1 = bswap16 r1', 'ror di, 8; movzx edi, di'),
  r('r9 = bswap32 r9', 'bswap r15d'),
  r('r2 = bswap64 r2', 'bswap rsi'),
  // Loads: movzx with REX.W for 1/2 bytes; 4 bytes with a REX only when needed; disp8 / disp32.
  r('r0 = *(u8 *)(r1 +8)', 'movzx rax, byte ptr [rdi+8]'),
  r('r0 = *(u16 *)(r10 -2)', 'movzx rax, word ptr [rbp-2]'),
  r('r5 = *(u32 *)(r7 +8)', 'mov r8d, dword ptr [r13+8]'),
  r('r1 = *(u32 *)(r2 +8)', 'mov edi, dword ptr [rsi+8]'),
  r('r9 = *(u64 *)(r1 +32767)', 'mov r15, qword ptr [rdi+32767]'),
  r('r0 = *(u64 *)(r1 -32768)', 'mov rax, qword ptr [rdi-32768]'),
  r('r0 = *(u64 *)(r1 +127)', 'mov rax, qword ptr [rdi+127]'),
  r('r0 = *(u64 *)(r1 +128)', 'mov rax, qword ptr [rdi+128]'),
  r('r0 = *(u64 *)(r1 -128)', 'mov rax, qword ptr [rdi-128]'),
  r('r0 = *(u64 *)(r1 -129)', 'mov rax, qword ptr [rdi-129]'),
  r('r6 = *(u8 *)(r9 +1)', 'movzx rbx, byte ptr [r15+1]'),
  // MEMSX.
  r('r0 = *(s8 *)(r1 +8)', 'movsx rax, byte ptr [rdi+8]'),
  r('r7 = *(s16 *)(r10 -4)', 'movsx r13, word ptr [rbp-4]'),
  r('r1 = *(s32 *)(r2 +4)', 'movsxd rdi, dword ptr [rsi+4]'),
  // Stores of an immediate.
  r('*(u8 *)(r10 -1) = 5', 'mov byte ptr [rbp-1], 5'),
  r('*(u16 *)(r7 +2) = -1', 'mov word ptr [r13+2], 0xffff'),
  r('*(u32 *)(r1 +4) = 100000', 'mov dword ptr [rdi+4], 100000'),
  r('*(u64 *)(r10 -8) = -1', 'mov qword ptr [rbp-8], -1'),
  r('*(u64 *)(r9 +200) = 2147483647', 'mov qword ptr [r15+200], 0x7fffffff'),
  r('*(u32 *)(r8 -200) = -2147483648', 'mov dword ptr [r14-200], 0x80000000'),
  // Stores of a register (a byte store from sil/dil/bpl needs REX 40).
  r('*(u8 *)(r1 +1) = r2', 'mov byte ptr [rdi+1], sil'),
  r('*(u8 *)(r10 -1) = r3', 'mov byte ptr [rbp-1], dl'),
  r('*(u8 *)(r7 +1) = r0', 'mov byte ptr [r13+1], al'),
  r('*(u16 *)(r1 +2) = r7', 'mov word ptr [rdi+2], r13w'),
  r('*(u32 *)(r10 -4) = r0', 'mov dword ptr [rbp-4], eax'),
  r('*(u64 *)(r9 +8) = r5', 'mov qword ptr [r15+8], r8'),
  r('*(u64 *)(r1 +4096) = r6', 'mov qword ptr [rdi+4096], rbx'),
  // Atomics.
  r('lock *(u64 *)(r10 -8) += r1', 'lock add qword ptr [rbp-8], rdi'),
  r('lock *(u32 *)(r1 +4) |= r2', 'lock or dword ptr [rdi+4], esi'),
  r('lock *(u64 *)(r7 +8) &= r9', 'lock and qword ptr [r13+8], r15'),
  r('lock *(u32 *)(r9 +8) ^= r0', 'lock xor dword ptr [r15+8], eax'),
  r('r1 = atomic64_fetch_add((u64 *)(r2 +8), r1)', 'lock xadd qword ptr [rsi+8], rdi'),
  r('r1 = atomic_fetch_add((u32 *)(r2 +8), r1)', 'lock xadd dword ptr [rsi+8], edi'),
  r('r1 = atomic64_xchg((u64 *)(r2 +8), r1)', 'lock xchg qword ptr [rsi+8], rdi'),
  r('r7 = atomic_xchg((u32 *)(r10 -4), r7)', 'lock xchg dword ptr [rbp-4], r13d'),
  r('r0 = atomic64_cmpxchg((u64 *)(r1 +8), r0, r2)', 'lock cmpxchg qword ptr [rdi+8], rsi'),
  r('r0 = atomic_cmpxchg((u32 *)(r1 +8), r0, r9)', 'lock cmpxchg dword ptr [rdi+8], r15d'),
  // fetch and/or/xor: a cmpxchg loop, rax saved in r10 (BPF AX), the new value built in r11.
  r(
    'r2 = atomic64_fetch_or((u64 *)(r1 +8), r2)',
    'mov r10, rax; L: mov rax, qword ptr [rdi+8]; mov r11, rax; or r11, rsi; lock cmpxchg qword ptr [rdi+8], r11; jne L; mov rsi, rax; mov rax, r10',
  ),
  r(
    'r2 = atomic_fetch_and((u32 *)(r1 +8), r2)',
    'mov r10, rax; L: mov eax, dword ptr [rdi+8]; mov r11d, eax; and r11d, esi; lock cmpxchg dword ptr [rdi+8], r11d; jne L; mov esi, eax; mov rax, r10',
  ),
  r(
    'r0 = atomic64_fetch_xor((u64 *)(r1 +8), r0)',
    'mov r10, rax; L: mov rax, qword ptr [rdi+8]; mov r11, rax; xor r11, r10; lock cmpxchg qword ptr [rdi+8], r11; jne L; mov r10, rax; mov rax, r10',
  ),
  // load-acquire / store-release are plain moves on x86 (TSO).
  r('r0 = load_acquire((u64 *)(r1 +8))', 'mov rax, qword ptr [rdi+8]'),
  r('r7 = load_acquire((u32 *)(r1 +8))', 'mov r13d, dword ptr [rdi+8]'),
  r('store_release((u64 *)(r1 +8), r2)', 'mov qword ptr [rdi+8], rsi'),
  r('store_release((u16 *)(r1 +8), r9)', 'mov word ptr [rdi+8], r15w'),
  // Conditional jumps: cmp/test, then jcc rel8 (rel32 when far). The target is the `exit` after `r0 = 0`
  // (xor eax, eax: 2 bytes).
  { prog: ['if r1 > r2 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, rsi; ja {+7}' },
  { prog: ['if w1 > w2 goto pc+1', 'r0 = 0'], x86: 'cmp edi, esi; ja {+6}' },
  { prog: ['if r7 >= r8 goto pc+1', 'r0 = 0'], x86: 'cmp r13, r14; jae {+7}' },
  { prog: ['if r1 < r2 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, rsi; jb {+7}' },
  { prog: ['if r1 <= r2 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, rsi; jbe {+7}' },
  { prog: ['if r1 s> r2 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, rsi; jg {+7}' },
  { prog: ['if r1 s>= r2 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, rsi; jge {+7}' },
  { prog: ['if r1 s< r2 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, rsi; jl {+7}' },
  { prog: ['if r1 s<= r2 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, rsi; jle {+7}' },
  { prog: ['if r1 == r2 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, rsi; je {+7}' },
  { prog: ['if r1 != r2 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, rsi; jne {+7}' },
  { prog: ['if r1 & r2 goto pc+1', 'r0 = 0'], x86: 'test rdi, rsi; jne {+7}' },
  { prog: ['if w5 & w7 goto pc+1', 'r0 = 0'], x86: 'test r8d, r13d; jne {+7}' },
  { prog: ['if r1 == 0x0 goto pc+1', 'r0 = 0'], x86: 'test rdi, rdi; je {+7}' },
  { prog: ['if w9 != 0x0 goto pc+1', 'r0 = 0'], x86: 'test r15d, r15d; jne {+7}' },
  { prog: ['if r1 s> 0x5 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, 5; jg {+8}' },
  { prog: ['if r1 s< 0x80 goto pc+1', 'r0 = 0'], x86: 'cmp rdi, 128; jl {+11}' },
  { prog: ['if w7 > 0xffffffff goto pc+1', 'r0 = 0'], x86: 'cmp r13d, -1; ja {+8}' },
  { prog: ['if r1 & 0x8 goto pc+1', 'r0 = 0'], x86: 'test rdi, 8; jne {+11}' },
  { prog: ['if w6 & 0x8 goto pc+1', 'r0 = 0'], x86: 'test ebx, 8; jne {+10}' },
  // A far target needs rel32: 30 × `r0 = 1` (mov eax, 1: 5 bytes) in between.
  { prog: ['if r1 == r2 goto pc+30', ...Array<string>(30).fill('r0 = 1')], x86: 'cmp rdi, rsi; je {+159}' },
  // Backward: to the start of `r0 = 1` (5 bytes) just before.
  { prog: ['r0 = 1', 'if r1 > r2 goto pc-2'], at: 1, x86: 'cmp rdi, rsi; ja {-5}' },
  { prog: ['goto pc+1', 'r0 = 0'], x86: 'jmp {+4}' },
  { prog: ['gotol pc+1', 'r0 = 0'], x86: 'jmp {+4}' },
  { prog: ['goto pc+0'], x86: '' },
  // exit: the first one emits the epilogue.
  { prog: ['exit'], x86: 'leave; ret' },
  // Arena accesses (kernel-xlated PROBE_MEM32 / PROBE_MEM32SX / PROBE_ATOMIC): [ptr + r12 + disp].
  arena('r0 = *(u64 __arena *)(r1 +8)', 'mov rax, qword ptr [rdi+r12+8]'),
  arena('r0 = *(u8 __arena *)(r1 +8)', 'movzx eax, byte ptr [rdi+r12+8]'),
  arena('r5 = *(u16 __arena *)(r7 -200)', 'movzx r8d, word ptr [r13+r12-200]'),
  arena('r1 = *(u32 __arena *)(r2 +4)', 'mov edi, dword ptr [rsi+r12+4]'),
  arena('r0 = *(s8 __arena *)(r1 +8)', 'movsx rax, byte ptr [rdi+r12+8]'),
  arena('r9 = *(s16 __arena *)(r1 +8)', 'movsx r15, word ptr [rdi+r12+8]'),
  arena('r0 = *(s32 __arena *)(r1 +300)', 'movsxd rax, dword ptr [rdi+r12+300]'),
  arena('*(u32 __arena *)(r1 +8) = 7', 'mov dword ptr [rdi+r12+8], 7'),
  arena('*(u8 __arena *)(r1 +8) = 7', 'mov byte ptr [rdi+r12+8], 7'),
  arena('*(u16 __arena *)(r9 +8) = 7', 'mov word ptr [r15+r12+8], 7'),
  arena('*(u64 __arena *)(r7 +8) = -1', 'mov qword ptr [r13+r12+8], -1'),
  arena('*(u64 __arena *)(r1 +8) = r2', 'mov qword ptr [rdi+r12+8], rsi'),
  arena('*(u8 __arena *)(r1 +8) = r2', 'mov byte ptr [rdi+r12+8], sil'),
  arena('*(u16 __arena *)(r1 -8) = r8', 'mov word ptr [rdi+r12-8], r14w'),
  arena('*(u32 __arena *)(r7 +1000) = r0', 'mov dword ptr [r13+r12+1000], eax'),
  arena('lock *(u64 __arena *)(r1 +8) += r2', 'lock add qword ptr [rdi+r12+8], rsi'),
  arena('lock *(u32 __arena *)(r1 +8) ^= r9', 'lock xor dword ptr [rdi+r12+8], r15d'),
  arena('r2 = atomic64_fetch_add((u64 __arena *)(r1 +8), r2)', 'lock xadd qword ptr [rdi+r12+8], rsi'),
  arena('r2 = atomic64_xchg((u64 __arena *)(r1 +8), r2)', 'lock xchg qword ptr [rdi+r12+8], rsi'),
  arena('r0 = atomic64_cmpxchg((u64 __arena *)(r1 +8), r0, r2)', 'lock cmpxchg qword ptr [rdi+r12+8], rsi'),
  // Cast to user: merge user_vm_start's upper half into a non-NULL pointer.
  arena(
    'r1 = addr_space_cast(r2, 1, 0)',
    'mov edi, esi; shl rdi, 32; or rdi, 0x7f12; rol rdi, 32; xor r11, r11; test edi, edi; cmove rdi, r11',
  ),
  arena('r0 = addr_space_cast(r0, 1, 0)', 'shl rax, 32; or rax, 0x7f12; rol rax, 32; xor r11, r11; test eax, eax; cmove rax, r11'),
  arena(
    'r7 = addr_space_cast(r7, 1, 0)',
    'shl r13, 32; or r13, 0x7f12; rol r13, 32; xor r11, r11; test r13d, r13d; cmove r13, r11',
  ),
];
