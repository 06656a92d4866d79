// Program editing for mutation and delta-debugging: jumps, calls and ld_imm64 of functions keep pointing at
// the same instruction when instructions (one or two slots) are deleted or inserted before/after them.
import { describe, expect, test } from 'vitest';
import { EditList } from '../../src/fuzz/index.js';
import { parse } from '../../src/isa/parse.js';
import { printProgram } from '../../src/isa/print.js';
import { validate } from '../../src/isa/validate.js';

const text = (src: string): string => printProgram(parse(src));

describe('EditList', () => {
  const src = ['r1 = 0x100000000 ll', 'if r1 > 5 goto l1', 'r2 = 0x200000000 ll', 'r0 = 1', 'l1:', 'r0 += 2', 'call f', 'exit', 'f:', 'r0 = 3', 'exit'].join('\n');

  test('round trip without edits is byte-identical', () => {
    expect(printProgram(new EditList(parse(src)).toProgram())).toBe(text(src));
  });

  test('deleting a two-slot ld_imm64 between a jump and its target shortens the jump by two slots', () => {
    const e = new EditList(parse(src));
    e.delete(2); // r2 = ... ll
    const out = e.toProgram();
    expect(validate(out)).toEqual([]);
    expect(printProgram(out)).toBe(text(['r1 = 0x100000000 ll', 'if r1 > 5 goto l1', 'r0 = 1', 'l1:', 'r0 += 2', 'call f', 'exit', 'f:', 'r0 = 3', 'exit'].join('\n')));
  });

  test('deleting a jump target moves the jump to what follows; calls keep their callee', () => {
    const e = new EditList(parse(src));
    e.delete(4); // r0 += 2 (target of the jump)
    expect(printProgram(e.toProgram())).toBe(text(['r1 = 0x100000000 ll', 'if r1 > 5 goto l1', 'r2 = 0x200000000 ll', 'r0 = 1', 'l1:', 'call f', 'exit', 'f:', 'r0 = 3', 'exit'].join('\n')));
  });

  test('inserting a block with a local back-edge before a jump target: the jump lands on the block', () => {
    const e = new EditList(parse(src));
    e.insert(4, [
      { code: 0xb7, dst: 6, src: 0, off: 0, imm: 3 }, // r6 = 3
      { code: 0x17, dst: 6, src: 0, off: 0, imm: 1 }, // r6 -= 1
      { code: 0x55, dst: 6, src: 0, off: 0, imm: 0, to: 1 }, // if r6 != 0 goto (r6 -= 1)
    ]);
    const out = e.toProgram();
    expect(validate(out)).toEqual([]);
    expect(printProgram(out)).toBe(
      text(['r1 = 0x100000000 ll', 'if r1 > 5 goto l1', 'r2 = 0x200000000 ll', 'r0 = 1', 'l1:', 'r6 = 3', 'l2:', 'r6 -= 1', 'if r6 != 0 goto l2', 'r0 += 2', 'call f', 'exit', 'f:', 'r0 = 3', 'exit'].join('\n')),
    );
  });
});
