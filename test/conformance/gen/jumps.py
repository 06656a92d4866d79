#!/usr/bin/env python3
"""Writes the conditional-jump .data tests (jXX-jmp.data, jXX-jmp32.data).

Each test is a chain of checks. Before check N, r0 = N; a check that goes the wrong way exits with r0 = N,
so a failure names the check. After the last check r0 = 0xff (the expected result).

Whether a branch is taken is decided here from RFC 9669's definitions, independently of bpfjit:
JMP compares the full 64-bit registers (an immediate is sign-extended to 64 bits); JMP32 compares the low
32 bits (the immediate's 32 bits); j{gt,ge,lt,le} are unsigned, js{gt,ge,lt,le} signed, jset is dst & src != 0.
"""
import os

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1

def signed(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v

OPS = {
    'jeq': lambda a, b, n: a == b,
    'jne': lambda a, b, n: a != b,
    'jgt': lambda a, b, n: a > b,
    'jge': lambda a, b, n: a >= b,
    'jlt': lambda a, b, n: a < b,
    'jle': lambda a, b, n: a <= b,
    'jset': lambda a, b, n: (a & b) != 0,
    'jsgt': lambda a, b, n: signed(a, n) > signed(b, n),
    'jsge': lambda a, b, n: signed(a, n) >= signed(b, n),
    'jslt': lambda a, b, n: signed(a, n) < signed(b, n),
    'jsle': lambda a, b, n: signed(a, n) <= signed(b, n),
}

# (dst value, src value) pairs as 64-bit patterns; chosen to separate signed/unsigned, equal/unequal,
# and (for JMP32) values that differ only in the upper half.
REG_PAIRS = [
    (1, 1), (1, 2), (2, 1),
    (0xffffffffffffffff, 1), (1, 0xffffffffffffffff),
    (0x8000000000000000, 0x7fffffffffffffff),
    (0x100000001, 1), (1, 0x100000001),
    (0x00000000ffffffff, 0xffffffff00000001),
    (0xf0, 0x0f), (0xf0, 0x10),
]
# (dst value, imm) pairs: imm is a signed 32-bit immediate.
IMM_PAIRS = [
    (5, 5), (5, 6), (6, 5),
    (0xffffffffffffffff, -1), (0x00000000ffffffff, -1),
    (0x8000000000000000, 0), (1, -1), (0x7fffffff, -2147483648),
    (0x100000005, 5), (0x30, 0x10), (0x30, 0x0f),
]

def write(op, cls):
    n = 32 if cls == 'jmp32' else 64
    mask = M32 if n == 32 else M64
    name = op + ('32' if n == 32 else '')
    lines = [f'# {name}: {"low 32 bits" if n == 32 else "64-bit registers"}, '
             f'{"signed" if op.startswith("js") else "unsigned" if op not in ("jeq", "jne", "jset") else "bitwise"} comparison.',
             '# Check N leaves r0 = N when the branch goes the wrong way; all right: r0 = 0xff.',
             '# Expected directions computed from the RFC 9669 definition by test/conformance/gen/jumps.py.',
             '-- asm']
    check = 0
    for a, b in REG_PAIRS:
        check += 1
        taken = OPS[op](a & mask, b & mask, n)
        lines += [f'# check {check}: {a:#x} vs {b:#x} (register) -> {"taken" if taken else "not taken"}',
                  f'lddw %r1, {a:#x}', f'lddw %r2, {b:#x}', f'mov %r0, {check}']
        lines += [f'{name} %r1, %r2, +1', 'ja fail'] if taken else [f'{name} %r1, %r2, fail']
    for a, imm in IMM_PAIRS:
        check += 1
        b = imm & mask  # JMP: sign-extended to 64 bits; JMP32: the immediate's 32 bits
        taken = OPS[op](a & mask, b, n)
        lines += [f'# check {check}: {a:#x} vs imm {imm} -> {"taken" if taken else "not taken"}',
                  f'lddw %r1, {a:#x}', f'mov %r0, {check}']
        lines += [f'{name} %r1, {imm}, +1', 'ja fail'] if taken else [f'{name} %r1, {imm}, fail']
    lines += ['mov %r0, 0xff', 'fail:', 'exit', '-- result', '0xff', '']
    path = os.path.join(os.path.dirname(__file__), '..', 'data', f'{name}.data')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))

for op in OPS:
    write(op, 'jmp')
    write(op, 'jmp32')
