// Pure parts of src/kernel: placeholder resolution, BTF FUNC lookup, the verifier-log text (no bpf() needed).
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { parseEnv } from '../../src/env.js';
import { decode } from '../../src/isa/codec.js';
import { makeProgram } from '../../src/isa/insn.js';
import { btfFuncIds, kernelText, resolvePlaceholders, verifierReason } from '../../src/kernel/index.js';
import { minimalFuncBtf, programFunctionStarts } from '../../src/kernel/btf.js';
import { parseBtf, BtfKind } from '../../src/loader/btf.js';
import { parse } from '../../src/isa/parse.js';

const env = parseEnv({ arena: { pages: 4, flags: 0, map_extra: 0 }, kfuncs: { '0x101': 'bpf_arena_alloc_pages', '0x102': 'bpf_arena_free_pages' } });
const ids: Record<string, number> = { bpf_arena_alloc_pages: 1111, bpf_arena_free_pages: 2222 };
const btfId = (n: string) => ids[n]!;

describe('resolvePlaceholders', () => {
  test('map fd, map value with offset, kfunc keys', () => {
    const prog = makeProgram([
      { code: 0x18, dst: 1, src: 1, off: 0, imm: 0, imm2: 0 },
      { code: 0x18, dst: 2, src: 2, off: 0, imm: 0, imm2: 0x3000 },
      { code: 0x85, dst: 0, src: 2, off: 0, imm: 0x102 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
    const p = resolvePlaceholders(prog, env, 7, btfId);
    const out = decode(p.bytes).insns;
    expect(out[0]).toMatchObject({ src: 1, imm: 7, imm2: 0 });
    expect(out[1]).toMatchObject({ src: 2, imm: 7, imm2: 0x3000 });
    expect(out[2]).toMatchObject({ src: 2, imm: 2222 });
    expect(p.kfuncs).toEqual(['bpf_arena_free_pages']);
    expect(p.usesArenaMap).toBe(true);
  });
  test.each([
    [{ code: 0x85, dst: 0, src: 2, off: 0, imm: 0x999 }, /^insn 1: kfunc call key 0x999 is not in/],
    [{ code: 0x18, dst: 1, src: 1, off: 0, imm: 3, imm2: 0 }, /^insn 1: ld_imm64 names map 3; only map 0/],
  ])('bad placeholder %#', (bad, message) => {
    const prog = makeProgram([{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, bad, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
    expect(() => resolvePlaceholders(prog, env, 7, btfId)).toThrow(message);
  });
  test('ELF objects: other maps by index (the arena keeps 0)', () => {
    const prog = makeProgram([
      { code: 0x18, dst: 1, src: 1, off: 0, imm: 2, imm2: 0 },
      { code: 0x18, dst: 2, src: 2, off: 0, imm: 3, imm2: 16 },
      { code: 0x18, dst: 3, src: 1, off: 0, imm: 0, imm2: 0 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
    const out = decode(resolvePlaceholders(prog, env, 7, btfId, new Map([[2, 20], [3, 30]])).bytes).insns;
    expect(out.slice(0, 3).map((i) => [i.src, i.imm, i.imm2])).toEqual([[1, 20, 0], [2, 30, 16], [1, 7, 0]]);
  });
  test('an arena reference without an arena', () => {
    const prog = makeProgram([{ code: 0x18, dst: 1, src: 1, off: 0, imm: 0, imm2: 0 }]);
    expect(() => resolvePlaceholders(prog, parseEnv({}), null, btfId)).toThrow(/^insn 0: .*no arena/);
  });
});

/** A BTF blob: header, the given types, a string section. */
function btf(types: number[][], strings: string): Uint8Array {
  const t = Buffer.from(new Uint32Array(types.flat()).buffer);
  const s = Buffer.from(strings, 'latin1');
  const h = Buffer.alloc(24);
  h.writeUInt16LE(0xeb9f, 0);
  h.writeUInt8(1, 2);
  h.writeUInt32LE(24, 4);
  h.writeUInt32LE(0, 8);
  h.writeUInt32LE(t.length, 12);
  h.writeUInt32LE(t.length, 16);
  h.writeUInt32LE(s.length, 20);
  return new Uint8Array(Buffer.concat([h, t, s]));
}

describe('btfFuncIds', () => {
  test('finds FUNC entries past types with trailing data', () => {
    const strs = '\0int\0foo\0bar\0';
    const blob = btf(
      [
        [1, (1 << 24) | 0, 4, 0x20], // 1: INT "int" (+4)
        [0, (13 << 24) | 2, 1, 0, 1, 0, 1], // 2: FUNC_PROTO, 2 params (+16)
        [5, (12 << 24) | 0, 2], // 3: FUNC "foo"
        [0, (4 << 24) | 1, 4, 1, 1, 0], // 4: STRUCT, 1 member (+12)
        [9, (12 << 24) | 0, 2], // 5: FUNC "bar"
      ],
      strs,
    );
    expect([...btfFuncIds(blob)]).toEqual([['foo', 3], ['bar', 5]]);
  });
  test('bad magic and truncation are located', () => {
    expect(() => btfFuncIds(new Uint8Array(30))).toThrow(BpfError);
    const blob = btf([[1, 1 << 24, 4, 0]], '\0x\0');
    const cut = blob.slice(0, blob.length - 3);
    new DataView(cut.buffer).setUint32(12, 20, true); // type section claims more than there is
    expect(() => btfFuncIds(cut)).toThrow(/exceed|truncated/);
  });
  const vmlinux = '/sys/kernel/btf/vmlinux';
  test.skipIf(!existsSync(vmlinux))('this kernel has the arena kfuncs', () => {
    const m = btfFuncIds(new Uint8Array(readFileSync(vmlinux)));
    expect(m.get('bpf_arena_alloc_pages')).toBeGreaterThan(0);
    expect(m.get('bpf_arena_free_pages')).toBeGreaterThan(0);
  });
});

describe('verifier log', () => {
  const log = [
    'func#0 @0',
    '0: R1=ctx() R10=fp0',
    '0: (b7) r0 = 42                       ; R0=42',
    '1: (85) call bpf_arena_free_pages#63505      ;',
    '0: (b7) r0 = 42',
    'from 1 to 3: R0=1',
    '3: (95) exit',
    'R0 !read_ok',
    'processed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
  ].join('\n');
  test('kernel.txt: one line per visited instruction, states stripped', () => {
    expect(kernelText(log)).toBe('0: (b7) r0 = 42\n1: (85) call bpf_arena_free_pages#63505\n3: (95) exit\n');
  });
  test('the reason is the last line that is not a statistic', () => {
    expect(verifierReason(log)).toBe('R0 !read_ok');
  });
});

describe('minimalFuncBtf (raw programs with callbacks)', () => {
  test('one static FUNC per function start: main, bpf-to-bpf callee, callback', () => {
    const prog = parse('r2 = subprog[cb]\ncall sub\nexit\ncb:\nr0 = 0\nexit\nsub:\nr0 = 1\nexit\n');
    expect(programFunctionStarts(prog)).toEqual([0, 4, 6]);
    const { data, funcInfo } = minimalFuncBtf(prog);
    const btf = parseBtf(data, 0);
    expect(funcInfo.map((f) => f.insnOff)).toEqual([0, 4, 6]);
    for (const f of funcInfo) {
      const t = btf.types[f.typeId]!;
      expect(t.kind).toBe(BtfKind.FUNC);
      expect(t.vlen).toBe(0); // static linkage
      expect(btf.types[t.sizeOrType]!.kind).toBe(BtfKind.FUNC_PROTO);
    }
    expect(funcInfo.map((f) => btf.types[f.typeId]!.name)).toEqual(['f0', 'f1', 'f2']);
  });
});
