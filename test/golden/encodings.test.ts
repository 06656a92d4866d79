// Per-instruction golden encodings (see table.ts): the JIT's bytes for one BPF instruction equal the
// independent assembler's, and two independent decoders agree on the instruction boundaries.
import { beforeAll, describe, expect, test } from 'vitest';
import { parseKernel } from '../../src/isa/parse.js';
import { jit } from '../../src/jit/index.js';
import { ROWS, CALL_BASE, IMAGE_BASE, KERN_VM_START, USER_VM_START, type GoldenRow } from './table.js';
import { assemble, capstoneLengths, hex, icedDecode, initTools, sideBySide } from './x86.js';

beforeAll(initTools);

/** JITs the row's program and returns the code of the instruction under test with its address. */
function codeOf(row: GoldenRow): { code: Uint8Array; address: bigint } {
  const arena = row.dialect === 'kernel-xlated';
  const prog = parseKernel([...row.prog, 'exit'].join('\n'));
  const res = jit(prog, {
    imageBase: [IMAGE_BASE],
    callBase: CALL_BASE,
    bmi2: row.bmi2 ?? true,
    ...(arena ? { kernVmStart: KERN_VM_START, userVmStart: USER_VM_START } : {}),
  });
  const fn = res.functions[0]!;
  const insn = prog.insns[row.at ?? 0]!;
  const next = prog.insns[(row.at ?? 0) + 1]!;
  const start = fn.addrs[insn.pc - fn.firstPc]!;
  const end = fn.addrs[next.pc - fn.firstPc]!;
  return { code: fn.image.slice(start, end), address: fn.imageBase + BigInt(start) };
}

/** Replaces `{+N}` / `{-N}` by the absolute address relative to the instruction's start. */
function resolveTargets(text: string, address: bigint): string {
  return text.replace(/\{([+-])(\d+)\}/g, (_m, sign: string, n: string) =>
    `0x${(sign === '+' ? address + BigInt(n) : address - BigInt(n)).toString(16)}`,
  );
}

function label(row: GoldenRow): string {
  const bpf = row.prog[row.at ?? 0]!;
  return `${bpf}${row.bmi2 === false ? ' (no BMI2)' : ''}`;
}

describe(`golden encodings (${ROWS.length} rows)`, () => {
  test.each(ROWS.map((row) => [label(row), row] as const))('%s', (_name, row) => {
    const { code, address } = codeOf(row);
    const expected = row.bytes !== undefined ? new Uint8Array(Buffer.from(row.bytes, 'hex')) : assemble(resolveTargets(row.x86 ?? '', address), address);
    if (hex(code) !== hex(expected)) {
      expect.fail(`encoding differs for ${label(row)}\n${sideBySide(expected, code)}`);
    }
    // Two independent decoders agree on the instruction boundaries of what we emitted.
    const iced = icedDecode(code).map((i) => i.length);
    expect(capstoneLengths(code)).toEqual(iced);
    expect(iced.reduce((a, b) => a + b, 0)).toBe(code.length);
    if (row.x86 !== undefined && row.x86.trim() !== '') {
      const count = row.x86.split(';').length;
      expect(iced.length, `instruction count of '${row.x86}'`).toBe(count);
    }
  });
});
