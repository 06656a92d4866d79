#!/usr/bin/env python3
"""Hand-written .data tests (ALU, byte swaps, loads/stores, atomics, calls). Kept in one script so they are
easy to review side by side; expected results are derived in the comments from RFC 9669, not from bpfjit.
Run it to (re)write the files in ../data."""
import os

T = {}

# ---------------------------------------------------------------- ALU64
T['add64'] = ('''# 64-bit add does not wrap at 32 bits; the immediate is sign-extended.
mov %r0, 0x7fffffff
mov %r1, 1
add %r0, %r1
# r0 = 0x80000000
add %r0, -2
# 0x80000000 + 0xfffffffffffffffe = 0x7ffffffe (mod 2^64)
exit''', '0x7ffffffe')
T['sub64'] = ('''mov %r0, 0
mov %r1, 1
sub %r0, %r1
# 0 - 1 = 0xffffffffffffffff
sub %r0, -1
# - (-1): back to 0, then one more to see a non-zero value
sub %r0, 1
exit''', '0xffffffffffffffff')
T['mul64'] = ('''lddw %r0, 0x100000001
mov %r1, 0x10
mul %r0, %r1
# 0x1000000010
mul %r0, -1
# 2^64 - 0x1000000010 = 0xffffffefffffff0
exit''', '0xffffffeffffffff0')
T['or-and-xor64'] = ('''lddw %r0, 0xf0f0f0f00f0f0f0f
or %r0, -256
# imm sign-extended: 0xffffffffffffff00 | r0 = 0xffffffffffffff0f
lddw %r1, 0x00ff00ff00ff00ff
and %r0, %r1
# 0x00ff00ff00ff000f
xor %r0, -1
# ~r0 = 0xff00ff00ff00fff0
exit''', '0xff00ff00ff00fff0')
T['lsh64'] = ('''mov %r0, 1
mov %r1, 65
lsh %r0, %r1
# shift count masked to 63: 65 & 63 = 1, r0 = 2
lsh %r0, 62
# 2 << 62 = 0x8000000000000000
exit''', '0x8000000000000000')
T['rsh64'] = ('''lddw %r0, 0x8000000000000000
mov %r1, 127
rsh %r0, %r1
# 127 & 63 = 63: logical shift, r0 = 1
lddw %r2, 0xff00000000000000
rsh %r2, 60
# 0xf
lsh %r0, 4
or %r0, %r2
exit''', '0x1f')
T['arsh64'] = ('''lddw %r0, 0x8000000000000000
mov %r1, 68
arsh %r0, %r1
# 68 & 63 = 4: sign bit copied in: 0xf800000000000000
exit''', '0xf800000000000000')
T['neg64'] = ('''mov %r0, 1
neg %r0
exit''', '0xffffffffffffffff')
T['mov64'] = ('''mov %r0, -1
# a 64-bit mov of an immediate sign-extends it
mov %r1, %r0
mov %r0, %r1
exit''', '0xffffffffffffffff')
T['lddw'] = ('''lddw %r0, 0x123456789abcdef0
exit''', '0x123456789abcdef0')
T['lddw-jump-over'] = ('''# a jump offset counts both slots of lddw
mov %r0, 7
ja +2
lddw %r0, 0x1111
exit''', '0x7')
T['div64'] = ('''lddw %r0, 0x8000000000000000
mov %r1, 3
div %r0, %r1
# 2^63 / 3 = 3074457345618258602 = 0x2aaaaaaaaaaaaaaa (unsigned)
exit''', '0x2aaaaaaaaaaaaaaa')
T['div64-imm-signext'] = ('''lddw %r0, 0xffffffffffffffff
div %r0, -1
# ALU64 immediates are sign-extended: divisor 0xffffffffffffffff, unsigned quotient 1
lddw %r1, 0xfffffffffffffffe
div %r1, -1
# 0xfffffffffffffffe / 0xffffffffffffffff = 0
lsh %r0, 4
or %r0, %r1
exit''', '0x10')
T['div64-by-zero'] = ('''mov %r0, 42
mov %r1, 0
div %r0, %r1
# division by zero gives 0
exit''', '0x0')
T['mod64'] = ('''lddw %r0, 0xffffffffffffffff
mod %r0, 10
# 18446744073709551615 mod 10 = 5
exit''', '0x5')
T['mod64-by-zero'] = ('''lddw %r0, 0x123456789
mov %r1, 0
mod %r0, %r1
# modulo by zero leaves dst unchanged
exit''', '0x123456789')
T['sdiv64'] = ('''mov %r0, -7
sdiv %r0, 2
# signed, truncated toward zero: -3
exit''', '0xfffffffffffffffd')
T['sdiv64-intmin'] = ('''lddw %r0, 0x8000000000000000
mov %r1, -1
sdiv %r0, %r1
# INT64_MIN / -1 = INT64_MIN
exit''', '0x8000000000000000')
T['sdiv64-by-zero'] = ('''mov %r0, -5
mov %r1, 0
sdiv %r0, %r1
exit''', '0x0')
T['smod64'] = ('''mov %r0, -7
smod %r0, 3
# -7 = 3 * -2 + -1: the remainder has the sign of the dividend
mov %r1, 7
smod %r1, -3
# 7 = -3 * -2 + 1
add %r0, %r1
# -1 + 1 = 0; then make it visible
add %r0, 0x55
exit''', '0x55')
T['smod64-neg1'] = ('''lddw %r0, 0x8000000000000000
mov %r1, -1
smod %r0, %r1
# x s% -1 = 0 (no trap on INT64_MIN)
exit''', '0x0')
T['smod64-by-zero'] = ('''mov %r0, -5
mov %r1, 0
smod %r0, %r1
# unchanged
exit''', '0xfffffffffffffffb')

# ---------------------------------------------------------------- ALU32
T['add32'] = ('''lddw %r0, 0xffffffffffffffff
add32 %r0, 2
# 0xffffffff + 2 = 0x1 in 32 bits; the upper half is cleared
exit''', '0x1')
T['sub32'] = ('''lddw %r0, 0x1234567800000000
sub32 %r0, 1
# 0 - 1 = 0xffffffff, zero-extended
exit''', '0xffffffff')
T['mul32'] = ('''lddw %r0, 0xabcd000000010001
mul32 %r0, 0x10001
# 0x10001 * 0x10001 = 0x100020001, low 32 bits 0x00020001
exit''', '0x20001')
T['or-and-xor32'] = ('''lddw %r0, 0xaaaaaaaa55555555
or32 %r0, 0x0f0f0f0f
# 0x5f5f5f5f, upper half cleared
lddw %r1, 0xffffffff0000ffff
and32 %r0, %r1
# 0x00005f5f
xor32 %r0, -1
# 0xffffa0a0
exit''', '0xffffa0a0')
T['lsh32'] = ('''mov32 %r0, 1
mov32 %r1, 33
lsh32 %r0, %r1
# count masked to 31: 33 & 31 = 1, r0 = 2
lsh32 %r0, 30
# 2 << 30 = 0x80000000
lsh32 %r0, 1
# bit 31 shifted out, nothing carried into bit 32: 0
add32 %r0, 0x77
exit''', '0x77')
T['rsh32'] = ('''lddw %r0, 0xffffffff80000000
mov %r1, 63
rsh32 %r0, %r1
# 63 & 31 = 31; only the low half is shifted: 1
exit''', '0x1')
T['arsh32'] = ('''mov32 %r0, 0x80000000
arsh32 %r0, 4
# 32-bit arithmetic shift: 0xf8000000, zero-extended (upper half 0)
exit''', '0xf8000000')
T['neg32'] = ('''lddw %r0, 0x1234567800000001
neg32 %r0
# -1 in 32 bits, zero-extended
exit''', '0xffffffff')
T['mov32'] = ('''lddw %r1, 0xffffffffffffffff
mov32 %r0, %r1
# 32-bit mov zero-extends
mov32 %r2, -1
# imm: 0xffffffff, not sign-extended
add %r0, %r2
# 0xffffffff + 0xffffffff = 0x1fffffffe (64-bit add)
exit''', '0x1fffffffe')
T['div32'] = ('''lddw %r0, 0x100000010
lddw %r1, 0x200000002
div32 %r0, %r1
# only the low halves: 0x10 / 2 = 8
exit''', '0x8')
T['div32-imm-unsigned'] = ('''mov32 %r0, -2
div32 %r0, -1
# ALU32 immediates are unsigned 32-bit: 0xfffffffe / 0xffffffff = 0 (a signed reading would give 2)
add32 %r0, 0x33
exit''', '0x33')
T['div32-by-zero'] = ('''lddw %r0, 0xffffffff12345678
lddw %r1, 0x100000000
div32 %r0, %r1
# the divisor's low half is 0: result 0
exit''', '0x0')
T['mod32'] = ('''mov32 %r0, 100
mod32 %r0, 7
exit''', '0x2')
T['mod32-by-zero'] = ('''lddw %r0, 0xffffffff12345678
lddw %r1, 0x100000000
mod32 %r0, %r1
# modulo by zero keeps dst, but as a 32-bit result it is zero-extended
exit''', '0x12345678')
T['sdiv32'] = ('''mov32 %r0, -7
sdiv32 %r0, 2
# -3 as 32 bits, zero-extended
exit''', '0xfffffffd')
T['sdiv32-intmin'] = ('''mov32 %r0, 0x80000000
mov32 %r1, -1
sdiv32 %r0, %r1
# INT32_MIN / -1 = INT32_MIN
exit''', '0x80000000')
T['sdiv32-by-zero'] = ('''mov32 %r0, -5
mov32 %r1, 0
sdiv32 %r0, %r1
exit''', '0x0')
T['smod32'] = ('''mov32 %r0, -7
smod32 %r0, 3
# -1, zero-extended
exit''', '0xffffffff')
T['smod32-neg1'] = ('''mov32 %r0, 0x80000000
smod32 %r0, -1
exit''', '0x0')
T['smod32-by-zero'] = ('''lddw %r0, 0xffffffff80000005
mov32 %r1, 0
smod32 %r0, %r1
# unchanged low half, zero-extended
exit''', '0x80000005')

# ---------------------------------------------------------------- MOVSX (v4)
T['movsx864'] = ('''mov %r1, 0x180
movsx864 %r0, %r1
# low byte 0x80 sign-extended to 64 bits
exit''', '0xffffffffffffff80')
T['movsx1664'] = ('''mov %r1, 0x18000
movsx1664 %r0, %r1
exit''', '0xffffffffffff8000')
T['movsx3264'] = ('''lddw %r1, 0x1280000000
movsx3264 %r0, %r1
exit''', '0xffffffff80000000')
T['movsx832'] = ('''mov %r1, 0x180
movsx832 %r0, %r1
# sign-extended to 32 bits, then zero-extended
exit''', '0xffffff80')
T['movsx1632'] = ('''lddw %r1, 0xffffffff00018000
movsx1632 %r0, %r1
exit''', '0xffff8000')
T['movsx-positive'] = ('''mov %r1, 0x17f
movsx864 %r0, %r1
# 0x7f is positive: 0x7f
exit''', '0x7f')

# ---------------------------------------------------------------- byte order
for name, insn, result, why in [
    ('le16', 'le16 %r0', '0x7788', 'to little endian on a little-endian machine: truncate to 16 bits'),
    ('le32', 'le32 %r0', '0x55667788', 'truncate to 32 bits'),
    ('le64', 'le64 %r0', '0x1122334455667788', 'unchanged'),
    ('be16', 'be16 %r0', '0x8877', 'swap the low 16 bits, zero-extend'),
    ('be32', 'be32 %r0', '0x88776655', 'swap the low 32 bits, zero-extend'),
    ('be64', 'be64 %r0', '0x8877665544332211', 'swap all 8 bytes'),
    ('bswap16', 'bswap16 %r0', '0x8877', 'ALU64 END swaps unconditionally'),
    ('bswap32', 'bswap32 %r0', '0x88776655', 'ALU64 END swaps unconditionally'),
    ('bswap64', 'bswap64 %r0', '0x8877665544332211', 'ALU64 END swaps unconditionally'),
]:
    T[name] = (f'''lddw %r0, 0x1122334455667788
{insn}
# {why}
exit''', result)

# ---------------------------------------------------------------- loads and stores
MEM = '11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 00'
T['ldx-sizes'] = ('''# mem: 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 00 (little endian)
ldxb %r2, [%r1+8]
# 0x99
ldxh %r3, [%r1+2]
# 0x4433
ldxw %r4, [%r1+4]
# 0x88776655
ldxdw %r0, [%r1+8]
# 0x00ffeeddccbbaa99
xor %r0, %r2
xor %r0, %r3
xor %r0, %r4
# the upper half stays 0x00ffeedd; low half: 0xccbbaa99 ^ 0x99 = 0xccbbaa00, ^ 0x4433 = 0xccbbee33,
# ^ 0x88776655 = 0x44cc8866
exit''', '0x00ffeedd44cc8866', MEM)
T['ldx-zero-extends'] = ('''lddw %r0, 0xffffffffffffffff
ldxb %r0, [%r1]
# a load replaces the whole register: 0x11
exit''', '0x11', MEM)
T['ldx-neg-offset'] = ('''mov %r2, %r1
add %r2, 8
ldxh %r0, [%r2-2]
# bytes 6, 7 = 77 88 -> 0x8877
exit''', '0x8877', MEM)
T['ldxsb'] = ('''ldxsb %r0, [%r1+8]
# 0x99 sign-extended
exit''', '0xffffffffffffff99', MEM)
T['ldxsh'] = ('''ldxsh %r0, [%r1+12]
# dd ee -> 0xeedd, negative
ldxsh %r2, [%r1+14]
# ff 00 -> 0x00ff, positive
add %r0, %r2
# 0xffffffffffffeedd + 0xff = 0xffffffffffffefdc
exit''', '0xffffffffffffefdc', MEM)
T['ldxsw'] = ('''ldxsw %r0, [%r1+4]
# 55 66 77 88 -> 0x88776655, negative
exit''', '0xffffffff88776655', MEM)
T['st-sizes'] = ('''stdw [%r10-8], 0
stw [%r10-8], -1
# 4 bytes ff; the upper 4 stay 0
ldxdw %r0, [%r10-8]
exit''', '0xffffffff')
T['st-truncates'] = ('''stdw [%r10-8], -1
# stdw sign-extends its immediate: 8 bytes ff
sth [%r10-8], 0x12345
# only 0x2345 is stored
stb [%r10-6], 0x1ab
# only 0xab is stored at byte 2
ldxdw %r0, [%r10-8]
exit''', '0xffffffffffab2345')
T['stx-sizes'] = ('''lddw %r2, 0x1122334455667788
stxdw [%r10-16], %r2
stxw [%r10-8], %r2
stxh [%r10-4], %r2
stxb [%r10-2], %r2
stxb [%r10-1], %r2
ldxdw %r0, [%r10-8]
# bytes: 88 77 66 55 | 88 77 | 88 | 88 -> 0x8888778855667788
ldxdw %r3, [%r10-16]
jne %r3, %r2, fail
exit
fail:
mov %r0, 1
exit''', '0x8888778855667788')
T['stx-mem'] = ('''# stores into the input memory and reads them back
mov %r2, 0x5a
stxb [%r1+3], %r2
ldxw %r0, [%r1]
# 11 22 33 5a -> 0x5a332211
exit''', '0x5a332211', MEM)
T['mem-length'] = ('''# r2 holds the length of the input memory
mov %r0, %r2
exit''', '0x10', MEM)

# ---------------------------------------------------------------- atomics (v3)
T['atomic-add64'] = ('''stdw [%r10-8], 10
mov %r1, 5
lock add [%r10-8], %r1
ldxdw %r0, [%r10-8]
# 15; without fetch r1 keeps 5
lsh %r0, 8
or %r0, %r1
exit''', '0xf05')
T['atomic-fetch-add64'] = ('''stdw [%r10-8], 10
mov %r1, 5
lock fetch add [%r10-8], %r1
# r1 = old value 10, memory 15
ldxdw %r0, [%r10-8]
lsh %r0, 8
or %r0, %r1
exit''', '0xf0a')
T['atomic-fetch-add32'] = ('''stw [%r10-4], 0x7ffffffe
lddw %r1, 0xffffffff00000003
lock fetch add32 [%r10-4], %r1
# memory: 0x7ffffffe + 3 = 0x80000001 (32-bit); r1 = old 0x7ffffffe, zero-extended
ldxw %r0, [%r10-4]
lsh %r0, 32
or %r0, %r1
exit''', '0x800000017ffffffe')
T['atomic-or-and-xor64'] = ('''stdw [%r10-8], 0x0f
mov %r1, 0xf0
lock or [%r10-8], %r1
# 0xff
mov %r1, 0x3c
lock and [%r10-8], %r1
# 0x3c
mov %r1, 0x0f
lock xor [%r10-8], %r1
# 0x33
ldxdw %r0, [%r10-8]
exit''', '0x33')
T['atomic-fetch-or-and-xor64'] = ('''stdw [%r10-8], 0x0f
mov %r1, 0xf0
lock fetch or [%r10-8], %r1
# r1 = 0x0f, memory 0xff
mov %r2, 0x3c
lock fetch and [%r10-8], %r2
# r2 = 0xff, memory 0x3c
mov %r3, 0x0f
lock fetch xor [%r10-8], %r3
# r3 = 0x3c, memory 0x33
ldxdw %r0, [%r10-8]
lsh %r0, 8
or %r0, %r3
lsh %r0, 8
or %r0, %r2
lsh %r0, 8
or %r0, %r1
exit''', '0x333cff0f')
T['atomic-fetch-or-and-xor32'] = ('''stdw [%r10-8], 0
stw [%r10-8], 0x0f
lddw %r1, 0xaaaaaaaa000000f0
lock fetch or32 [%r10-8], %r1
# r1 = 0x0f (zero-extended), memory 0xff
lddw %r2, 0x5555555500000033
lock fetch and32 [%r10-8], %r2
# r2 = 0xff, memory 0x33
mov32 %r3, -1
lock fetch xor32 [%r10-8], %r3
# r3 = 0x33, memory 0xffffffcc; the upper 4 bytes of the slot stay 0
ldxdw %r0, [%r10-8]
add %r0, %r1
add %r0, %r2
add %r0, %r3
# 0xffffffcc + 0x0f + 0xff + 0x33 = 0xffffffcc + 0x141 = 0x10000010d
exit''', '0x10000010d')
T['atomic-xchg64'] = ('''stdw [%r10-8], 0x55
mov %r1, 0xaa
lock xchg [%r10-8], %r1
ldxdw %r0, [%r10-8]
lsh %r0, 8
or %r0, %r1
exit''', '0xaa55')
T['atomic-xchg32'] = ('''stdw [%r10-8], -1
stw [%r10-8], 0x55
lddw %r1, 0x12345678000000aa
lock xchg32 [%r10-8], %r1
# r1 = 0x55 (zero-extended), memory low half 0xaa, upper half still ff
ldxdw %r0, [%r10-8]
add %r0, %r1
# 0xffffffff000000aa + 0x55
exit''', '0xffffffff000000ff')
T['atomic-cmpxchg64-hit'] = ('''stdw [%r10-8], 7
mov %r0, 7
mov %r1, 9
lock cmpxchg [%r10-8], %r1
# equal: memory = 9, r0 = old 7
ldxdw %r2, [%r10-8]
lsh %r0, 8
or %r0, %r2
exit''', '0x709')
T['atomic-cmpxchg64-miss'] = ('''stdw [%r10-8], 7
mov %r0, 8
mov %r1, 9
lock cmpxchg [%r10-8], %r1
# not equal: memory unchanged, r0 = old 7
ldxdw %r2, [%r10-8]
lsh %r0, 8
or %r0, %r2
exit''', '0x707')
T['atomic-cmpxchg32'] = ('''stdw [%r10-8], 0
stw [%r10-8], 7
lddw %r0, 0xffffffff00000007
mov %r1, 9
lock cmpxchg32 [%r10-8], %r1
# compares the low 32 bits of r0: equal, memory = 9, r0 = 7 zero-extended
ldxdw %r2, [%r10-8]
lsh %r0, 8
or %r0, %r2
exit''', '0x709')

# ---------------------------------------------------------------- control flow
T['ja'] = ('''mov %r0, 1
ja +1
mov %r0, 2
ja skip
mov %r0, 3
skip:
add %r0, 0x10
exit''', '0x11')
T['ja-backward'] = ('''# a bounded loop: r0 = 0 + 1 + ... counted 5 times
mov %r0, 0
mov %r1, 5
loop:
add %r0, 3
sub %r1, 1
jne %r1, 0, loop
exit''', '0xf')
T['ja32'] = ('''# gotol takes its offset from imm, not off
mov %r0, 1
ja32 +1
mov %r0, 2
exit''', '0x1')
T['exit-not-last'] = ('''mov %r0, 0x2a
exit
mov %r0, 0
exit''', '0x2a')
T['call-local'] = ('''# r1-r5 are arguments, r0 the result, r6-r9 are preserved, each frame has its own stack
mov %r6, 6
mov %r7, 7
mov %r8, 8
mov %r9, 9
stdw [%r10-8], 0x1234
mov %r1, 1
mov %r2, 2
mov %r3, 3
mov %r4, 4
mov %r5, 5
call local sum
jne %r0, 15, fail
jne %r6, 6, fail
jne %r7, 7, fail
jne %r8, 8, fail
jne %r9, 9, fail
ldxdw %r1, [%r10-8]
jne %r1, 0x1234, fail
mov %r0, 0x600d
exit
fail:
mov %r0, 1
exit
sum:
stdw [%r10-8], 0x5555
mov %r6, 0
mov %r7, 0
mov %r8, 0
mov %r9, 0
mov %r0, %r1
add %r0, %r2
add %r0, %r3
add %r0, %r4
add %r0, %r5
exit''', '0x600d')
T['call-local-nested'] = ('''# three levels; each adds its own stack value, r10 differs per frame
mov %r1, 1
call local f1
exit
f1:
stdw [%r10-8], 0x10
mov %r6, %r1
call local f2
ldxdw %r1, [%r10-8]
add %r0, %r1
add %r0, %r6
exit
f2:
stdw [%r10-8], 0x100
call local f3
ldxdw %r1, [%r10-8]
add %r0, %r1
exit
f3:
stdw [%r10-8], 0x1000
ldxdw %r0, [%r10-8]
exit''', '0x1111')
def write(name, body, result, mem=None):
    text = ''
    if mem is not None:
        text += f'-- mem\n{mem}\n'
    text += f'-- asm\n{body}\n-- result\n{result}\n'
    with open(os.path.join(os.path.dirname(__file__), '..', 'data', f'{name}.data'), 'w') as f:
        f.write(text)

for name, spec in T.items():
    write(name, *spec)
