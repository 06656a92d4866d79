// The assemblers: kernel syntax (labels, comments, numbers, errors with line numbers) and the
// bpf_conformance syntax, whose expected encodings are written by hand from RFC 9669's opcode tables.
import { describe, expect, it } from 'vitest';
import { BpfError, encode, parse, printProgram } from '../../src/index.js';

const hex = (text: string, syntax: 'kernel' | 'conformance' = 'kernel') =>
  Buffer.from(encode(parse(text, { syntax }))).toString('hex').match(/.{16}/g)!;

function errorLines(text: string, syntax: 'kernel' | 'conformance' = 'kernel'): string[] {
  try {
    parse(text, { syntax });
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    return (e as BpfError).message.split('\n');
  }
  throw new Error('no error');
}

describe('kernel syntax', () => {
  it('labels, comments, verifier-log prefixes and both number bases', () => {
    const text = `
      ; count down from 0x10
      start:  r1 = 0x10        ; ld_imm64 (hex)
              r2 = 16          // mov (decimal)
      loop:   r1 += -1
              if r1 != 0x0 goto loop
      3: (b7) r0 = 0
              goto end
              r0 = 1
      end:    exit`;
    expect(hex(text)).toEqual([
      '1801000010000000', '0000000000000000', // r1 = 0x10 (ld_imm64: two slots)
      'b702000010000000', // r2 = 16
      '07010000ffffffff', // r1 += -1
      '5501feff00000000', // if r1 != 0 goto -2 (back to loop)
      'b700000000000000',
      '0500010000000000', // goto end (skips one)
      'b700000001000000',
      '9500000000000000',
    ]);
  });
  it('jump and call targets: pc+N, +N, -N, labels; gotol and call use imm', () => {
    expect(hex('goto +1\ngotol pc-1\ncall f\nf: exit')).toEqual([
      '0500010000000000', '06000000ffffffff', '8510000000000000', '9500000000000000',
    ]);
  });
  it('ld_imm64 spellings', () => {
    expect(hex('r1 = 0xffffffffffffffff\nr2 = -1 ll\nr3 = 0x100000000')).toEqual([
      '18010000ffffffff', '00000000ffffffff', '18020000ffffffff', '00000000ffffffff',
      '1803000000000000', '0000000001000000',
    ]);
  });
  it('helper calls by name, with or without #id; kfuncs by any other name', () => {
    expect(hex('call bpf_ktime_get_ns\ncall bpf_map_lookup_elem#1\ncall unknown#300\ncall bpf_arena_alloc_pages#257')).toEqual([
      '8500000005000000', '8500000001000000', '850000002c010000', '8520000001010000',
    ]);
  });
  it('LLVM-style spacing in memory operands', () => {
    expect(hex('r0 = *(u64 *)(r1 + 8)\n*(u32 *)(r10-4) = r1\nr1 = *(u8 *)(r2)')).toEqual([
      '7910080000000000', '631afcff00000000', '7121000000000000',
    ]);
  });
  it('reports every bad line as line N: reason', () => {
    expect(errorLines('r0 = 0\nr1 == 3\nr12 = r99\n goto nowhere\nexit\nx: exit\nx: exit')).toEqual([
      "line 2: cannot parse instruction 'r1 == 3'",
      'line 3: register r99 does not exist',
      "line 7: label 'x' already defined on line 6",
      "line 4: unknown label 'nowhere'",
    ]);
    expect(errorLines('r1 += 0x100000000')).toEqual(['line 1: immediate 0x100000000 does not fit in 32 bits']);
    expect(errorLines('goto pc+40000')).toEqual(['line 1: jump offset +40000 does not fit in 16 bits']);
    expect(errorLines('3: (bf) r0 = 1')).toEqual(['line 1: opcode (bf) does not match the instruction, which encodes as (b7)']);
    expect(errorLines('r1 = r2 + 1')).toEqual(["line 1: expected a number for the immediate, got 'r2 + 1'"]);
    expect(errorLines('r0 = atomic_fetch_add((u64 *)(r1 +0), r0)')).toEqual([
      'line 1: atomic_fetch_add does not match the access size (atomic64_* is u64, atomic_* is u32)',
    ]);
    expect(errorLines('w1 = r2')).toEqual(['line 1: mixing wN and rN registers in one instruction']);
    expect(errorLines('r0 = *(s64 *)(r1 +0)')).toEqual(['line 1: type s64 does not exist for a memory access (use u64)']);
    expect(errorLines('.insn code=0x1ff')).toEqual(['line 1: .insn code=0x1ff is out of range']);
  });
  it('a label can be 32768 slots away only for gotol', () => {
    const far = `goto end\n${'r0 = 0\n'.repeat(32768)}end: exit`;
    expect(errorLines(far)).toEqual(["line 1: label 'end' is 32768 slots away, beyond the 16-bit jump offset (use gotol)"]);
    expect(parse(far.replace('goto end', 'gotol end')).insns[0]!.imm).toBe(32768);
  });
  it('printing then parsing is the identity on text too', () => {
    const text = printProgram(parse('r1 = 5\nr1 = bswap32 r1\nr0 = *(s16 *)(r1 -2)\nlock *(u32 *)(r10 -8) ^= r1\nexit'));
    expect(printProgram(parse(text))).toBe(text);
    expect(text.split('\n')[1]).toBe('1: (d7) r1 = bswap32 r1');
  });
});

// Expected bytes: opcode = class | op | source (RFC 9669 §3-5); regs byte = src << 4 | dst; off LE16; imm LE32.
describe('bpf_conformance syntax', () => {
  const cases: [string, string[]][] = [
    ['mov32 %r0, 1', ['b400000001000000']],
    ['mov %r0, %r1', ['bf10000000000000']],
    ['add %r0, %r1', ['0f10000000000000']],
    ['add64 %r0, 2', ['0700000002000000']],
    ['arsh32 %r0, -16', ['c4000000f0ffffff']],
    ['sdiv32 %r0, 3', ['3400010003000000']],
    ['smod %r1, %r2', ['9f21010000000000']],
    ['neg %r0', ['8700000000000000']],
    ['neg32 %r3', ['8403000000000000']],
    ['movsx1664 %r0, %r1', ['bf10100000000000']],
    ['movsx832 %r2, %r3', ['bc32080000000000']],
    ['movsx3264 %r2, %r3', ['bf32200000000000']],
    ['bswap64 %r0', ['d700000040000000']],
    ['swap16 %r1', ['d701000010000000']],
    ['le16 %r0', ['d400000010000000']],
    ['be32 %r0', ['dc00000020000000']],
    ['lddw %r0, 0x123456789abcdef0', ['18000000f0debc9a', '0000000078563412']],
    ['ldxh %r0, [%r1+2]', ['6910020000000000']],
    ['ldxdw %r0, [%r1+8]', ['7910080000000000']],
    ['ldxsb %r0, [%r1-1]', ['9110ffff00000000']],
    ['ldxsw %r0, [%r1]', ['8110000000000000']],
    ['stw [%r1+4], 7', ['6201040007000000']],
    ['stxdw [%r10-8], %r0', ['7b0af8ff00000000']],
    ['lock add [%r10-8], %r1', ['db1af8ff00000000']],
    ['lock fetch add [%r10-8], %r1', ['db1af8ff01000000']],
    ['lock fetch xor32 [%r1], %r2', ['c3210000a1000000']],
    ['lock xchg [%r1+16], %r2', ['db211000e1000000']],
    ['lock cmpxchg32 [%r10-8], %r1', ['c31af8fff1000000']],
    ['jsgt32 %r1, %r2, +1', ['6e21010000000000']],
    ['jeq %r1, 0x10, +2', ['1501020010000000']],
    ['jset %r1, %r2, -1', ['4d21ffff00000000']],
    ['ja +3', ['0500030000000000']],
    ['ja32 +5', ['0600000005000000']],
    ['call 1', ['8500000001000000']],
    ['call helper 5', ['8500000005000000']],
    ['call runtime 7', ['8520000007000000']],
    ['call %r2', ['8d02000000000000']],
    ['ldabsw 12', ['200000000c000000']],
    ['ldindh %r1, 4', ['4810000004000000']],
    ['exit', ['9500000000000000']],
  ];
  it.each(cases)('%s', (text, bytes) => {
    expect(hex(text, 'conformance')).toEqual(bytes);
  });
  it('labels, local calls and comments', () => {
    const text = `# a test
mov %r0, 0
call local func1   # comment
ja L2
L1: exit
L2:
jne %r0, 1, L1
exit
func1:
mov %r0, 1
exit`;
    expect(hex(text, 'conformance')).toEqual([
      'b700000000000000', '8510000004000000', '0500010000000000', '9500000000000000',
      '5500feff01000000', '9500000000000000', 'b700000001000000', '9500000000000000',
    ]);
  });
  it('`exit` is an implicit label for the first exit', () => {
    expect(hex('jeq %r1, 0, exit\nmov %r0, 1\nexit\nexit', 'conformance')).toEqual([
      '1501010000000000', 'b700000001000000', '9500000000000000', '9500000000000000',
    ]);
  });
  it('errors name the line', () => {
    expect(errorLines('mov %r0, 1\nfrob %r1\nadd %r0\nldxdw %r0, %r1\njeq %r1, 0, L9', 'conformance')).toEqual([
      "line 2: unknown mnemonic 'frob'",
      'line 3: add takes 2 operands, got 1',
      "line 4: expected a memory operand like [%r1+8], got '%r1'",
      "line 5: unknown label 'L9'",
    ]);
  });
});

describe('bpf_conformance syntax without % on registers (as some suite files write them)', () => {
  it('encodes the same as the % form', () => {
    const bare = 'mov r0, 1\nldxdw r0, [r1+8]\nstxw [r10-4], r2\njsgt32 r1, r2, +1\nadd r0, r1\nexit';
    const pct = 'mov %r0, 1\nldxdw %r0, [%r1+8]\nstxw [%r10-4], %r2\njsgt32 %r1, %r2, +1\nadd %r0, %r1\nexit';
    expect(hex(bare, 'conformance')).toEqual(hex(pct, 'conformance'));
  });
});
