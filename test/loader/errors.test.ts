// Malformed objects: each corruption of a real example object gives its own precise BpfError
// (byte offset + what was expected). Field positions follow the ELF64 / BTF layouts; section
// offsets come from llvm-readelf (test/fixtures/loader/expected.json).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { patchedLoadError } from '../helpers/errors.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const expected = JSON.parse(readFileSync(`${root}test/fixtures/loader/expected.json`, 'utf8')) as Record<
  string,
  { sections: { index: number; name: string; offset: number; size: number }[]; relocations: { section: number; relSection: number; offset: number; type: number; symbol: string }[]; symbols: { name: string }[] }
>;
const pristine = (f: string): Uint8Array => new Uint8Array(readFileSync(`${root}examples/${f}`));

/** Loads a patched copy and returns the BpfError (fails the test if none is thrown). */
const errorOf = (file: string, patch: (b: Uint8Array, v: DataView) => Uint8Array | void): BpfError => patchedLoadError(pristine(file), patch);

const F = 'arena_list.bpf.o';
const exp = expected[F]!;
const sec = (name: string) => exp.sections.find((s) => s.name === name)!;
const shoff = (v: DataView): number => Number(v.getBigUint64(40, true));
const shdr = (v: DataView, name: string): number => shoff(v) + sec(name).index * 64;
/** File offset of the relocation entry for `symbol` in the relocation section of `target`. */
function relEntry(target: string, symbol: string): { at: number; offset: number } {
  const t = sec(target);
  const all = exp.relocations.filter((r) => r.section === t.index);
  const i = all.findIndex((r) => r.symbol === symbol);
  const relSec = exp.sections.find((s) => s.index === all[i]!.relSection)!;
  return { at: relSec.offset + i * 16, offset: all[i]!.offset };
}

describe('ELF header', () => {
  it('not ELF', () => {
    expect(errorOf(F, (b) => void (b[1] = 0x46)).message).toBe('byte offset 0: not an ELF file: expected magic 7f 45 4c 46');
  });
  it('truncated header', () => {
    expect(errorOf(F, (b) => b.subarray(0, 40)).message).toBe('byte offset 40: truncated ELF header: expected 64 bytes, file has 40');
  });
  it('wrong class', () => {
    expect(errorOf(F, (b) => void (b[4] = 1)).message).toBe('byte offset 4: expected a 64-bit ELF (EI_CLASS 2, ELFCLASS64), got class 1');
  });
  it('wrong endianness', () => {
    expect(errorOf(F, (b) => void (b[5] = 2)).message).toBe('byte offset 5: expected a little-endian ELF (EI_DATA 1, ELFDATA2LSB), got 2');
  });
  it('not relocatable', () => {
    expect(errorOf(F, (_b, v) => v.setUint16(16, 2, true)).message).toMatch(/^byte offset 16: expected a relocatable object \(e_type ET_REL = 1.*got 2$/);
  });
  it('wrong machine', () => {
    expect(errorOf(F, (_b, v) => v.setUint16(18, 62, true)).message).toBe('byte offset 18: expected machine EM_BPF (247), got 62');
  });
  it('section header table out of bounds', () => {
    const e = errorOf(F, (b, v) => v.setBigUint64(40, BigInt(b.length - 64), true));
    expect(e.message).toMatch(/^byte offset 40: section header table \(32 entries at byte offset \d+\) extends past the end of the file/);
  });
  it('file truncated inside the section headers', () => {
    const e = errorOf(F, (b, v) => b.subarray(0, shoff(v) + 100));
    expect(e.message).toMatch(/^byte offset 40: section header table .* extends past the end of the file/);
  });
  it('section name table index out of range', () => {
    expect(errorOf(F, (_b, v) => v.setUint16(62, 99, true)).message).toBe('byte offset 62: section name table index 99 is out of range (32 sections)');
  });
});

describe('sections, strings, symbols', () => {
  it('section data out of bounds', () => {
    const e = errorOf(F, (b, v) => v.setBigUint64(shdr(v, 'syscall') + 24, BigInt(b.length), true));
    expect(e.diagnostics[0]!.byteOffset).toBe(shdr(new DataView(pristine(F).buffer), 'syscall') + 24);
    expect(e.message).toMatch(/section \d+: data at byte offset \d+ with size \d+ extends past the end of the file/);
  });
  it('section name outside the string table', () => {
    const e = errorOf(F, (_b, v) => v.setUint32(shdr(v, 'syscall'), 0x7fff, true));
    expect(e.message).toMatch(/^byte offset \d+: section \d+ name: name offset 32767 is outside string table '\.strtab'/);
  });
  it('symbol pointing at a missing section', () => {
    const symtab = sec('.symtab');
    const e = errorOf(F, (_b, v) => v.setUint16(symtab.offset + 5 * 24 + 6, 200, true));
    expect(e.message).toBe(`byte offset ${symtab.offset + 5 * 24 + 6}: symbol 5: section index 200 is out of range (32 sections)`);
  });
  it('code section with a partial instruction', () => {
    const e = errorOf(F, (_b, v) => v.setBigUint64(shdr(v, 'syscall') + 32, BigInt(sec('syscall').size - 4), true));
    expect(e.message).toMatch(/code section 'syscall': size \d+ is not a multiple of 8/);
  });
});

describe('relocations', () => {
  it('relocation to a missing symbol', () => {
    const { at } = relEntry('syscall', 'head');
    const e = errorOf(F, (_b, v) => v.setUint32(at + 12, 999, true));
    expect(e.message).toBe(`byte offset ${at + 12}: relocation 1 in '.relsyscall': symbol 999 does not exist (${exp.symbols.length} symbols)`);
  });
  it('unsupported relocation type on ld_imm64', () => {
    const { at, offset } = relEntry('syscall', 'head');
    const e = errorOf(F, (_b, v) => v.setUint32(at + 8, 2, true));
    expect(e.message).toBe(`byte offset ${at}: relocation in '.relsyscall' at insn ${offset / 8}: unsupported relocation type R_BPF_64_ABS64 for ld_imm64 (expected R_BPF_64_64)`);
  });
  it('unknown relocation type on a call', () => {
    const { at } = relEntry('syscall', 'list_sum');
    expect(errorOf(F, (_b, v) => v.setUint32(at + 8, 77, true)).message).toMatch(/unsupported relocation type type 77 for a call \(expected R_BPF_64_32\)$/);
  });
  it('relocation outside its section', () => {
    const { at } = relEntry('syscall', 'head');
    expect(errorOf(F, (_b, v) => v.setBigUint64(at, 0x100000n, true)).message).toMatch(/relocation 1 in '\.relsyscall': offset 1048576 is outside section 'syscall'/);
  });
  it('relocation on an instruction that is neither ld_imm64 nor call', () => {
    const { at, offset } = relEntry('syscall', 'head');
    expect(errorOf(F, (_b, v) => v.setBigUint64(at, BigInt(offset + 16), true)).message).toMatch(/only ld_imm64 and call are relocatable/);
  });
  it('call into the middle of a function', () => {
    // build_list's static call to arena_alloc is relative to the .text section symbol (imm = start - 1).
    const { offset } = relEntry('syscall', '.text');
    const insnAt = sec('syscall').offset + offset;
    const e = errorOf(F, (_b, v) => v.setInt32(insnAt + 4, v.getInt32(insnAt + 4, true) + 1, true));
    expect(e.message).toMatch(/^function 'build_list' \(section 'syscall'\), insn \d+: call into the middle of 'arena_alloc' \(instruction 1\)$/);
  });
});

describe('BTF', () => {
  const btf = sec('.BTF');
  it('bad magic', () => {
    expect(errorOf(F, (_b, v) => v.setUint16(btf.offset, 0x1234, true)).message).toBe(`byte offset ${btf.offset}: BTF: bad magic 0x1234: expected 0xeb9f (little-endian BTF)`);
  });
  it('type section past the end', () => {
    expect(errorOf(F, (_b, v) => v.setUint32(btf.offset + 12, 0xffff, true)).message).toMatch(/BTF: type section \(offset 0, 65535 bytes\) extends past the section end/);
  });
  it('dangling type reference', () => {
    // Type 1 header starts right after the 24-byte header; its third word is a size or a type id.
    const e = errorOf(F, (_b, v) => {
      const kind = (v.getUint32(btf.offset + 24 + 4, true) >>> 24) & 0x1f;
      expect(kind).toBe(2); // clang emits a PTR first here
      v.setUint32(btf.offset + 24 + 8, 5000, true);
    });
    expect(e.message).toMatch(/BTF: type 1 \(PTR ''\) refers to type 5000, which does not exist/);
  });
  it('.BTF.ext with a bad record size', () => {
    const ext = sec('.BTF.ext');
    // func_info block: hdr_len (at +4) + func_info_off (at +8) → first word is rec_size.
    const e = errorOf(F, (_b, v) => v.setUint32(ext.offset + v.getUint32(ext.offset + 4, true) + v.getUint32(ext.offset + 8, true), 6, true));
    expect(e.message).toMatch(/BTF: \.BTF\.ext: record size 6 is invalid/);
  });
  it('maps without BTF', () => {
    const e = errorOf(F, (b) => {
      const strtab = sec('.strtab');
      const text = Buffer.from(b.subarray(strtab.offset, strtab.offset + strtab.size)).toString('latin1');
      b[strtab.offset + text.indexOf('.BTF\0') + 1] = 0x58; // ".BTF" → ".XTF"
    });
    expect(e.message).toMatch(/map '\.maps': the object has `\.maps` but no \.BTF section to describe them$/);
  });
});
