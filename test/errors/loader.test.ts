// Error classes of the ELF/BTF loader not covered by test/loader/errors.test.ts: each corruption of a real
// example object (field positions from the ELF64 and BTF layouts; section offsets from llvm-readelf in
// test/fixtures/loader/expected.json) gives a BpfError at the byte offset of the bad field.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { findProgram, loadObject } from '../../src/loader/index.js';
import { patchedLoadError } from '../helpers/errors.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const expected = JSON.parse(readFileSync(`${root}test/fixtures/loader/expected.json`, 'utf8')) as Record<
  string,
  { sections: { index: number; name: string; offset: number; size: number }[]; relocations: { section: number; relSection: number; offset: number; type: number; symbol: string }[] }
>;
const F = 'arena_list.bpf.o';
const exp = expected[F]!;
const pristine = new Uint8Array(readFileSync(`${root}examples/${F}`));
const sec = (name: string) => exp.sections.find((s) => s.name === name)!;
const SHOFF = Number(new DataView(pristine.buffer, pristine.byteOffset).getBigUint64(40, true));
/** File offset of a section's header. */
const shdr = (name: string): number => SHOFF + sec(name).index * 64;

const errorOf = (patch: (b: Uint8Array, v: DataView) => Uint8Array | void): BpfError => patchedLoadError(pristine, patch);

describe('ELF', () => {
  it('EI_VERSION', () => {
    expect(errorOf((b) => void (b[6] = 2)).message).toBe('byte offset 6: expected ELF version 1 (EI_VERSION), got 2');
  });
  it('no section header table', () => {
    expect(errorOf((_b, v) => v.setBigUint64(40, 0n, true)).message).toBe('byte offset 40: the object has no section header table (e_shoff is 0)');
  });
  it('section header entry size', () => {
    expect(errorOf((_b, v) => v.setUint16(58, 40, true)).message).toBe('byte offset 58: expected section header entry size 64 (e_shentsize), got 40');
  });
  it('section header table past the end', () => {
    expect(errorOf((b, v) => v.setBigUint64(40, BigInt(b.length), true)).message).toBe(
      `byte offset 40: section header table at byte offset ${pristine.length} is past the end of the file (${pristine.length} bytes)`,
    );
  });
  it('a 64-bit field too large for the file', () => {
    const at = shdr('syscall') + 24;
    expect(errorOf((_b, v) => v.setBigUint64(at, 1n << 60n, true)).message).toBe(`byte offset ${at}: section ${sec('syscall').index} sh_offset ${1n << 60n} is too large`);
  });
  it('section names not in a string table', () => {
    const at = shdr('.strtab') + 4;
    expect(errorOf((_b, v) => v.setUint32(at, 1, true)).message).toBe(`byte offset ${at}: section 1 (section names) must be a string table (SHT_STRTAB 3), got type 1`);
  });
  it('a section name that is not NUL-terminated', () => {
    const s = sec('.strtab');
    const e = errorOf((b) => b.fill(0x41, s.offset, s.offset + s.size));
    expect(e.diagnostics[0]!.byteOffset).toBeGreaterThanOrEqual(s.offset);
    expect(e.message).toMatch(/^byte offset \d+: section 1 name: string at offset \d+ of '' is not NUL-terminated$/);
  });
  it('two symbol tables', () => {
    const at = shdr('.llvm_addrsig') + 4;
    expect(errorOf((_b, v) => v.setUint32(at, 2, true)).message).toMatch(/^byte offset \d+: more than one symbol table \(SHT_SYMTAB\)$/);
  });
  it('symbol table entry size and size', () => {
    expect(errorOf((_b, v) => v.setBigUint64(shdr('.symtab') + 56, 16n, true)).message).toBe(`byte offset ${shdr('.symtab') + 56}: symbol table entry size must be 24, got 16`);
    const size = sec('.symtab').size - 8;
    expect(errorOf((_b, v) => v.setBigUint64(shdr('.symtab') + 32, BigInt(size), true)).message).toBe(`byte offset ${shdr('.symtab') + 32}: symbol table size ${size} is not a multiple of 24`);
  });
  it("symbol table's string table", () => {
    expect(errorOf((_b, v) => v.setUint32(shdr('.symtab') + 40, 2, true)).message).toBe(`byte offset ${shdr('.symtab') + 40}: symbol table's string table index 2 does not name a string table`);
  });
  it('SHN_XINDEX symbols', () => {
    const at = sec('.symtab').offset + 3 * 24 + 6;
    expect(errorOf((_b, v) => v.setUint16(at, 0xffff, true)).message).toBe(`byte offset ${at}: symbol 3: extended section index (SHN_XINDEX) is not supported`);
  });
  it('RELA, entry size, size and target of a relocation section', () => {
    const h = shdr('.relsyscall');
    expect(errorOf((_b, v) => v.setUint32(h + 4, 4, true)).message).toBe(`byte offset ${h + 4}: relocation section '.relsyscall': RELA relocations are not used by BPF and not supported`);
    expect(errorOf((_b, v) => v.setBigUint64(h + 56, 24n, true)).message).toBe(`byte offset ${h + 56}: relocation section '.relsyscall': entry size must be 16, got 24`);
    expect(errorOf((_b, v) => v.setBigUint64(h + 32, 40n, true)).message).toBe(`byte offset ${h + 32}: relocation section '.relsyscall': size 40 is not a multiple of 16`);
  });
});

describe('BTF', () => {
  const btf = sec('.BTF');
  it('truncated header', () => {
    expect(errorOf((_b, v) => v.setBigUint64(shdr('.BTF') + 32, 10n, true)).message).toBe(`byte offset ${btf.offset}: BTF: truncated header: expected at least 24 bytes, section has 10`);
  });
  it('version', () => {
    expect(errorOf((b) => void (b[btf.offset + 2] = 2)).message).toBe(`byte offset ${btf.offset + 2}: BTF: unsupported version 2: expected 1`);
  });
  it('header length', () => {
    expect(errorOf((_b, v) => v.setUint32(btf.offset + 4, 8, true)).message).toBe(`byte offset ${btf.offset + 4}: BTF: header length 8 is outside 24..${btf.size}`);
  });
  it('string section past the end', () => {
    expect(errorOf((_b, v) => v.setUint32(btf.offset + 20, 0xffff, true)).message).toMatch(new RegExp(`^byte offset ${btf.offset + 16}: BTF: string section \\(offset \\d+, 65535 bytes\\) extends past the section end$`));
  });
  it('string section without a final NUL', () => {
    const v0 = new DataView(pristine.buffer, pristine.byteOffset);
    const hdr = v0.getUint32(btf.offset + 4, true);
    const end = btf.offset + hdr + v0.getUint32(btf.offset + 16, true) + v0.getUint32(btf.offset + 20, true) - 1;
    expect(errorOf((b) => void (b[end] = 0x41)).message).toBe(`byte offset ${end}: BTF: string section does not end with NUL`);
  });
  it('unknown type kind', () => {
    // type 1's info word: kind in bits 24..28
    const at = btf.offset + 24 + 4;
    expect(errorOf((_b, v) => v.setUint32(at, (v.getUint32(at, true) & ~(0x1f << 24)) | (25 << 24), true)).message).toBe(`byte offset ${at}: BTF: type 1: unknown kind 25`);
  });
  it('a type name outside the string section', () => {
    const at = btf.offset + 24;
    expect(errorOf((_b, v) => v.setUint32(at, 0xfffffff, true)).message).toMatch(new RegExp(`^byte offset ${at}: BTF: string offset 268435455 is outside the string section \\(\\d+ bytes\\)$`));
  });
  it('.BTF.ext header', () => {
    const ext = sec('.BTF.ext');
    expect(errorOf((_b, v) => v.setUint16(ext.offset, 0x1111, true)).message).toBe(`byte offset ${ext.offset}: BTF: .BTF.ext: bad magic 0x1111: expected 0xeb9f`);
    expect(errorOf((b) => void (b[ext.offset + 2] = 3)).message).toBe(`byte offset ${ext.offset + 2}: BTF: .BTF.ext: unsupported version 3: expected 1`);
  });
});

describe('linking', () => {
  it('a relocation that is not at an instruction boundary', () => {
    const r = exp.relocations.find((x) => x.symbol === 'head' && x.section === sec('syscall').index)!;
    const relSec = exp.sections.find((s) => s.index === r.relSection)!;
    const i = exp.relocations.filter((x) => x.relSection === r.relSection).indexOf(r);
    const at = relSec.offset + i * 16;
    expect(errorOf((_b, v) => v.setBigUint64(at, BigInt(r.offset + 4), true)).message).toMatch(new RegExp(`^byte offset ${at}: .*offset ${r.offset + 4} is not at an instruction boundary$`));
  });
  it('a program symbol that is not global', () => {
    const e = errorOf((b) => {
      // st_info of the symbol of the first program: bind (high nibble) GLOBAL → LOCAL
      const symtab = sec('.symtab');
      const strtab = sec('.strtab');
      const dv = new DataView(b.buffer);
      for (let i = 0; i < symtab.size / 24; i++) {
        const at = symtab.offset + i * 24;
        const nameOff = dv.getUint32(at, true);
        const name = Buffer.from(b.subarray(strtab.offset + nameOff, strtab.offset + nameOff + 16)).toString('latin1').split('\0')[0];
        if (name === 'build_list') b[at + 4] = b[at + 4]! & 0x0f;
      }
    });
    expect(e.message).toMatch(/^byte offset \d+: .*programs must be global \(static functions belong in \.text\)$/);
  });
  it('no programs at all (findProgram names the problem)', () => {
    const b = pristine.slice();
    const v = new DataView(b.buffer);
    // every FUNC symbol in 'syscall' → NOTYPE: the section has no programs left
    const symtab = sec('.symtab');
    for (let i = 0; i < symtab.size / 24; i++) {
      const at = symtab.offset + i * 24;
      if (v.getUint16(at + 6, true) === sec('syscall').index && (b[at + 4]! & 0xf) === 2) b[at + 4] = b[at + 4]! & 0xf0;
    }
    let message = '';
    try {
      findProgram(loadObject(b));
    } catch (e) {
      expect(e).toBeInstanceOf(BpfError);
      message = (e as Error).message;
    }
    expect(message).toBe('the object contains no programs');
  });
  /** Patches the symbol of function `name`: (view, symbol entry offset). */
  const patchSym = (name: string, f: (v: DataView, at: number) => void) => (b: Uint8Array, v: DataView): void => {
    const symtab = sec('.symtab');
    const strtab = sec('.strtab');
    for (let i = 0; i < symtab.size / 24; i++) {
      const at = symtab.offset + i * 24;
      const off = strtab.offset + v.getUint32(at, true);
      if (Buffer.from(b.subarray(off, off + name.length + 1)).toString('latin1') === `${name}\0`) f(v, at);
    }
  };
  it("a function's offset or size that is not a multiple of 8, or outside its section", () => {
    expect(errorOf(patchSym('build_list', (v, at) => v.setBigUint64(at + 16, 12n, true))).message).toMatch(
      /^byte offset \d+: function 'build_list' in 'syscall': offset \d+ \/ size 12 must be non-zero multiples of 8$/,
    );
    expect(errorOf(patchSym('build_list', (v, at) => v.setBigUint64(at + 16, 8000n, true))).message).toMatch(
      /^byte offset \d+: function 'build_list' in 'syscall': bytes \d+\.\.\d+ are outside the section \(480 bytes\)$/,
    );
  });
  it('overlapping functions', () => {
    expect(errorOf(patchSym('build_list', (v, at) => v.setBigUint64(at + 16, 480n - v.getBigUint64(at + 8, true), true))).message).toMatch(
      new RegExp(`^byte offset ${shdr('syscall')}: section 'syscall': functions '\\w+' and '\\w+' overlap$`),
    );
  });
});

describe('relocations against the wrong symbol or instruction', () => {
  const syms = (expected[F] as unknown as { symbols: { name: string }[] }).symbols.map((x) => x.name);
  const relsys = sec('.relsyscall');
  const rels = exp.relocations.filter((r) => r.relSection === sec('.relsyscall').index);
  /** File offset of relocation `i` of .relsyscall (its r_offset field; r_info at +8: type, +12: symbol). */
  const relAt = (symbol: string, nth = 0): { at: number; insn: number } => {
    const i = rels.map((r, k) => [r, k] as const).filter(([r]) => r.symbol === symbol)[nth]![1];
    return { at: relsys.offset + i * 16, insn: rels[i]!.offset / 8 };
  };
  it("a call whose src_reg is not 1 (bpf-to-bpf)", () => {
    const { at, insn } = relAt('list_sum');
    const code = sec('syscall').offset + insn * 8;
    expect(errorOf((b) => void (b[code + 1] = 0)).message).toBe(
      `byte offset ${at}: relocation in '.relsyscall' at insn ${insn}: call to 'list_sum' has src_reg 0, expected 1 (bpf-to-bpf call)`,
    );
  });
  it('a call to a program (not a .text subprogram)', () => {
    const { at, insn } = relAt('list_sum');
    expect(errorOf((_b, v) => v.setUint32(at + 12, syms.indexOf('free_list'), true)).message).toBe(
      `byte offset ${at}: relocation in '.relsyscall' at insn ${insn}: call to 'free_list' in section 'syscall': subprograms must be in .text`,
    );
  });
  it('a bpf-to-bpf call whose relocation is gone (moved onto another call)', () => {
    const first = relAt('list_sum', 0);
    const second = relAt('list_sum', 1);
    expect(errorOf((_b, v) => v.setBigUint64(first.at, BigInt(second.insn * 8), true)).message).toBe(
      `function 'build_list' (section 'syscall'), insn ${first.insn}: bpf-to-bpf call without a relocation outside .text`,
    );
  });
  it('a function address (ld_imm64 src 4) without a relocation', () => {
    // .rel.text's first entry (cur_page, the ld_imm64 that opens arena_alloc) moved onto cur_off's; the freed
    // ld_imm64 becomes a function-address load
    const relText = sec('.rel.text');
    const textRels = exp.relocations.filter((r) => r.relSection === relText.index);
    expect(textRels[0]!.symbol).toBe('cur_page');
    const e = errorOf((b, v) => {
      v.setBigUint64(relText.offset, BigInt(textRels[1]!.offset), true);
      const at = sec('.text').offset + textRels[0]!.offset;
      b[at + 1] = (b[at + 1]! & 0x0f) | 0x40;
    });
    expect(e.message).toBe("function 'arena_alloc' (section '.text'), insn 0: function address without a relocation");
  });
  it('an ld_imm64 against a symbol that is neither code, a map nor global data', () => {
    const { at, insn } = relAt('head');
    expect(errorOf((_b, v) => v.setUint32(at + 12, syms.indexOf('LICENSE'), true)).message).toBe(
      `byte offset ${at}: relocation in '.relsyscall' at insn ${insn}: 'LICENSE' is in section 'license', which is neither code, a map nor global data`,
    );
  });
});

// Objects compiled by clang-19 from test/fixtures/errors/*.bpf.c (build.sh; each source says what is wrong).
const FIX = `${root}test/fixtures/errors/`;
/** Section headers of an ELF64 file, read here independently of src/loader: name → [header offset, data offset]. */
function sections(b: Uint8Array): Map<string, { header: number; offset: number }> {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const shoff = Number(v.getBigUint64(40, true));
  const shnum = v.getUint16(60, true);
  const strOff = Number(v.getBigUint64(shoff + v.getUint16(62, true) * 64 + 24, true));
  const out = new Map<string, { header: number; offset: number }>();
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * 64;
    const n = strOff + v.getUint32(h, true);
    out.set(Buffer.from(b.subarray(n, b.indexOf(0, n))).toString('latin1'), { header: h, offset: Number(v.getBigUint64(h + 24, true)) });
  }
  return out;
}
function fixtureError(name: string): { message: string; secs: Map<string, { header: number; offset: number }> } {
  const b = new Uint8Array(readFileSync(`${FIX}${name}.bpf.o`));
  try {
    loadObject(b);
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    return { message: (e as Error).message, secs: sections(b) };
  }
  throw new Error(`${name}: expected a BpfError`);
}

describe('objects clang makes that the loader does not support', () => {
  it('legacy SEC("maps")', () => {
    const { message, secs } = fixtureError('legacy_maps');
    expect(message).toBe(`byte offset ${secs.get('maps')!.header}: legacy SEC("maps") map definitions are not supported: use BTF-defined maps in SEC(".maps")`);
  });
  it('two arenas', () => {
    const { message, secs } = fixtureError('two_arenas');
    expect(message).toBe(`byte offset ${secs.get('.maps')!.header}: only one arena map is supported, found a1, a2`);
  });
  it('__arena globals without an arena', () => {
    const { message, secs } = fixtureError('arena_globals_no_arena');
    expect(message).toBe(`byte offset ${secs.get('.addr_space.1')!.header}: section '.addr_space.1' (__arena globals) needs an arena map declared in SEC(".maps")`);
  });
  it('__arena globals bigger than the arena', () => {
    const { message, secs } = fixtureError('arena_too_small');
    expect(message).toBe(`byte offset ${secs.get('.addr_space.1')!.header}: arena 'arena' (1 pages) is too small for 8192 bytes of __arena globals`);
  });
  it('an arena of 0 pages (names the map)', () => {
    expect(fixtureError('arena_no_pages').message).toBe("arena 'arena': max_entries 0 pages is outside 1..1048576 (the arena is at most 4 GiB)");
  });
  it('an extern __ksym variable (the relocation entry and the instruction)', () => {
    const { message, secs } = fixtureError('extern_ksym');
    expect(message).toBe(`byte offset ${secs.get('.relsyscall')!.offset}: relocation in '.relsyscall' at insn 0: extern variable 'bpf_prog_active' (__ksym/__kconfig variables) is not supported`);
  });
  it('a common symbol (-fcommon)', () => {
    const { message, secs } = fixtureError('common_global');
    expect(message).toBe(`byte offset ${secs.get('.relsyscall')!.offset}: relocation in '.relsyscall' at insn 0: reference to 'shared_counter' in special section 0xfff2 (an uninitialised common global?)`);
  });
});

