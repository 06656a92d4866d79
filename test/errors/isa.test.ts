// Every error class of the assemblers (kernel and bpf_conformance syntax) and the decoder not covered by
// test/isa: each bad input is on a known line (or byte offset) and the message must name it.
import { describe, expect, it } from 'vitest';
import { decode, decodeHex } from '../../src/isa/codec.js';
import { parse } from '../../src/isa/parse.js';
import { bpfErrorMessage } from '../helpers/errors.js';

const error = bpfErrorMessage;

/** Line 1 is valid; the bad text is line 2. */
const kernel = (bad: string): string => error(() => parse(`r0 = 0\n${bad}\nexit`));
const conformance = (bad: string): string => error(() => parse(`mov %r0, 0\n${bad}\nexit`, { syntax: 'conformance' }));

describe('kernel syntax: line N names the bad line', () => {
  const cases: [string, string, RegExp][] = [
    ['signed store type', '*(s32 *)(r10 -8) = r1', /^line 2: a store takes an unsigned type \(u8\/u16\/u32\/u64\)$/],
    ['__probe on a store', '*(u32 __probe *)(r10 -8) = r1', /^line 2: __probe is only for loads .* a store through an arena pointer uses __arena$/],
    ['bad jump target', 'goto pc*3', /^line 2: expected a jump target \(pc\+N, \+N, -N or a label\), got 'pc\*3'$/],
    ['bad address space', 'r1 = addr_space_cast(r2, x1, 0)', /^line 2: bad address space 'x1'$/],
    ['bad source address space', 'r1 = addr_space_cast(r2, 1, zz)', /^line 2: bad address space 'zz'$/],
    ['address space too big', 'r1 = addr_space_cast(r2, 0x10000, 0)', /^line 2: address spaces are 16-bit numbers$/],
    ['byte swap not in place', 'r1 = bswap32 r2', /^line 2: byte swap works in place: write r1 = bswap32 r1$/],
    ['neg not in place', 'r1 = -r2', /^line 2: neg works in place: write r1 = -r1$/],
    ['movsx widths', 'r1 = (s8)w2', /^line 2: movsx takes two registers of the same width \(r\/r or w\/w\)$/],
    ['movsx s32 on w', 'w1 = (s32)w2', /^line 2: \(s32\) needs 64-bit registers$/],
    ['unparsable store', '*(u32 *)(r10 -8) = r1 r2', /^line 2: cannot parse store '\*\(u32 \*\)\(r10 -8\) = r1 r2'$/],
    ['cmpxchg form', 'r1 = atomic_cmpxchg((u32 *)(r10 -8), r0, r2)', /^line 2: cmpxchg is written r0 = atomic_cmpxchg/],
    ['fetch into another register', 'r1 = atomic_fetch_add((u32 *)(r10 -8), r2)', /^line 2: fetch_add returns into its source register: write r2 = atomic_fetch_add\(\.\.\., r2\)$/],
    ['map idx value form', 'r1 = map[idx:0][0]+8', /^line 2: write map\[idx:N\]\+OFF$/],
    ['.insn bad field', '.insn code=0x95 bogus', /^line 2: \.insn expects code= dst= src= off= imm= \[imm2=\], got 'bogus'$/],
    ['.insn field twice', '.insn code=0x95 code=0x95', /^line 2: \.insn field code given twice$/],
    ['.insn bad value', '.insn code=zz', /^line 2: bad \.insn code 'zz'$/],
    ['.insn without code', '.insn dst=1', /^line 2: \.insn needs code=$/],
    ['.insn imm2 on a non-ld_imm64', '.insn code=0x95 imm2=1', /^line 2: \.insn imm2= is only for ld_imm64 \(code=0x18\)$/],
    ['bad jump offset', 'if r1 == 0 goto +zz', /^line 2: expected a jump (offset|target)/],
    ['64-bit number', 'r1 = 0xzz ll', /^line 2: expected a 64-bit number, got '0xzz'$/],
    ['64-bit overflow', 'r1 = 0x1ffffffffffffffff ll', /^line 2: 0x1ffffffffffffffff does not fit in 64 bits$/],
  ];
  for (const [name, bad, want] of cases) it(name, () => expect(kernel(bad)).toMatch(want));
});

describe('conformance syntax: line N names the bad line', () => {
  const cases: [string, string, RegExp][] = [
    ['bad register', 'mov %r16, 1', /^line 2: expected a register %r0\.\.%r10, got '%r16'$/],
    ['bad jump target', 'ja *3', /^line 2: expected a jump target \(\+N, -N or a label\), got '\*3'$/],
    ['ldxsdw', 'ldxsdw %r0, [%r1]', /^line 2: ldxsdw does not exist \(a 64-bit load needs no sign extension\)$/],
    ['movsx3232', 'movsx3232 %r0, %r1', /^line 2: movsx3232 does not exist$/],
    ['bad lock', 'lock nand [%r1], %r2', /^line 2: expected lock \[fetch\] add\|and\|or\|xor\|xchg\|cmpxchg\[32\] \[%rD\+off\], %rS, got 'lock nand \[%r1\], %r2'$/],
    ['fetch xchg', 'lock fetch xchg [%r1], %r2', /^line 2: xchg always fetches; write lock xchg$/],
    ['bad call', 'call', /^line 2: expected call \[helper\|local\|runtime\] TARGET, got 'call ?'$/],
    ['unknown call kind', 'call remote 5', /^line 2: unknown call kind 'remote' \(helper, local or runtime\)$/],
  ];
  for (const [name, bad, want] of cases) it(name, () => expect(conformance(bad)).toMatch(want));
});

describe('decoder: the byte offset or slot of the problem', () => {
  it('truncated ld_imm64 names its slot', () => {
    expect(error(() => decodeHex('b700000000000000' + '1801000000000000'))).toBe('insn 1: truncated ld_imm64: the second slot is missing');
  });
  it('a non-zero second slot of ld_imm64 names that slot', () => {
    expect(error(() => decode(Uint8Array.from([0x18, 1, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])))).toBe(
      'insn 1: second slot of ld_imm64 must have zero opcode, registers and offset',
    );
  });
  it('the program-size limit names the byte offset of the limit and the option', () => {
    expect(error(() => decodeHex('95'.padEnd(48, '0'), { maxSlots: 2 }))).toBe(
      'byte offset 16: the program has 3 slots, more than the limit of 2 (Linux: E2BIG); raise it with --max-prog-insns (decode option maxSlots)',
    );
  });
});
