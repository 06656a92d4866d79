// src/loader — BPF object files from clang (ELF64 + BTF) turned into programs, maps and an arena.
// This module: a small, exact ELF64 little-endian reader for EM_BPF relocatable objects.
// Every malformed field is reported as a BpfError at its byte offset, saying what was expected.
import { BpfError } from '../errors.js';

export const EM_BPF = 247;
export const ET_REL = 1;

/** Section types used by BPF objects. */
export const ShType = { NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, NOBITS: 8, REL: 9 } as const;
/** Section flags. */
export const ShFlag = { WRITE: 0x1, ALLOC: 0x2, EXECINSTR: 0x4 } as const;
/** Symbol types (low 4 bits of st_info). */
export const SymType = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 } as const;
/** Symbol bindings (high 4 bits of st_info). */
export const SymBind = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
/** Special section indices. */
export const Shn = { UNDEF: 0, LORESERVE: 0xff00, ABS: 0xfff1, COMMON: 0xfff2, XINDEX: 0xffff } as const;

/** BPF relocation types (LLVM's BPF.def; libbpf's docs/bpf/llvm_reloc.rst). */
export const RelType = {
  R_BPF_NONE: 0,
  /** ld_imm64: S + A into the two 32-bit immediates. */
  R_BPF_64_64: 1,
  R_BPF_64_ABS64: 2,
  R_BPF_64_ABS32: 3,
  R_BPF_64_NODYLD32: 4,
  /** call: (S + A) / 8 - 1 into the immediate. */
  R_BPF_64_32: 10,
} as const;

export function relTypeName(type: number): string {
  const e = Object.entries(RelType).find(([, v]) => v === type);
  return e ? e[0] : `type ${type}`;
}

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  /** File offset of the data (meaningless for NOBITS). */
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly entsize: number;
  /** File offset of this section's header entry (for error messages). */
  readonly headerOffset: number;
  /** The section's bytes in the file; empty for NOBITS (.bss has only a size). */
  readonly data: Uint8Array;
}

export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  readonly value: number;
  readonly size: number;
  readonly type: number;
  readonly bind: number;
  readonly shndx: number;
  /** File offset of the symbol table entry. */
  readonly fileOffset: number;
}

export interface ElfRel {
  /** Byte offset inside the target section. */
  readonly offset: number;
  readonly type: number;
  readonly symbol: ElfSymbol;
  /** File offset of the relocation entry. */
  readonly fileOffset: number;
}

export interface ElfFile {
  readonly bytes: Uint8Array;
  readonly sections: readonly ElfSection[];
  /** Symbol table; index 0 is the null symbol. Empty if the object has no .symtab. */
  readonly symbols: readonly ElfSymbol[];
}

const fail = (byteOffset: number, message: string): never => {
  throw new BpfError({ byteOffset, message });
};

/** Reads a NUL-terminated string at `off` inside a string table section. */
export function readString(table: ElfSection, off: number, what: string, at: number): string {
  if (off >= table.size) {
    fail(at, `${what}: name offset ${off} is outside string table '${table.name}' (${table.size} bytes)`);
  }
  const end = table.data.indexOf(0, off);
  if (end < 0) fail(table.offset + off, `${what}: string at offset ${off} of '${table.name}' is not NUL-terminated`);
  return new TextDecoder().decode(table.data.subarray(off, end));
}

/** u64 field that must fit a JS number (offsets and sizes inside a file do). */
function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(at, `${what} ${v} is too large`);
  return Number(v);
}

export function parseElf(bytes: Uint8Array): ElfFile {
  const size = bytes.length;
  if (size < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    fail(0, 'not an ELF file: expected magic 7f 45 4c 46');
  }
  if (size < 64) fail(size, `truncated ELF header: expected 64 bytes, file has ${size}`);
  if (bytes[4] !== 2) fail(4, `expected a 64-bit ELF (EI_CLASS 2, ELFCLASS64), got class ${bytes[4]}`);
  if (bytes[5] !== 1) fail(5, `expected a little-endian ELF (EI_DATA 1, ELFDATA2LSB), got ${bytes[5]}`);
  if (bytes[6] !== 1) fail(6, `expected ELF version 1 (EI_VERSION), got ${bytes[6]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  const eType = view.getUint16(16, true);
  if (eType !== ET_REL) fail(16, `expected a relocatable object (e_type ET_REL = 1, as clang -c makes), got ${eType}`);
  const machine = view.getUint16(18, true);
  if (machine !== EM_BPF) fail(18, `expected machine EM_BPF (247), got ${machine}`);
  const shoff = u64(view, 40, 'e_shoff');
  const shentsize = view.getUint16(58, true);
  let shnum = view.getUint16(60, true);
  let shstrndx = view.getUint16(62, true);
  if (shoff === 0) fail(40, 'the object has no section header table (e_shoff is 0)');
  if (shentsize !== 64) fail(58, `expected section header entry size 64 (e_shentsize), got ${shentsize}`);
  if (shoff + 64 > size) fail(40, `section header table at byte offset ${shoff} is past the end of the file (${size} bytes)`);
  // Extended numbering: the real counts live in section 0.
  if (shnum === 0) shnum = u64(view, shoff + 32, 'section count (section 0 sh_size)');
  if (shstrndx === Shn.XINDEX) shstrndx = view.getUint32(shoff + 40, true);
  if (shoff + shnum * 64 > size) {
    fail(40, `section header table (${shnum} entries at byte offset ${shoff}) extends past the end of the file (${size} bytes)`);
  }
  if (shstrndx === 0 || shstrndx >= shnum) fail(62, `section name table index ${shstrndx} is out of range (${shnum} sections)`);

  interface RawShdr { name: number; type: number; flags: number; offset: number; size: number; link: number; info: number; entsize: number; at: number }
  const raw: RawShdr[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * 64;
    const type = view.getUint32(at + 4, true);
    const offset = u64(view, at + 24, `section ${i} sh_offset`);
    const secSize = u64(view, at + 32, `section ${i} sh_size`);
    if (type !== ShType.NOBITS && type !== ShType.NULL && offset + secSize > size) {
      fail(at + 24, `section ${i}: data at byte offset ${offset} with size ${secSize} extends past the end of the file (${size} bytes)`);
    }
    raw.push({
      name: view.getUint32(at, true),
      type,
      flags: Number(view.getBigUint64(at + 8, true) & 0xffffffffn),
      offset,
      size: secSize,
      link: view.getUint32(at + 40, true),
      info: view.getUint32(at + 44, true),
      entsize: u64(view, at + 56, `section ${i} sh_entsize`),
      at,
    });
  }
  const dataOf = (r: RawShdr): Uint8Array =>
    r.type === ShType.NOBITS || r.type === ShType.NULL ? new Uint8Array(0) : bytes.subarray(r.offset, r.offset + r.size);

  const strRaw = raw[shstrndx]!;
  if (strRaw.type !== ShType.STRTAB) fail(strRaw.at + 4, `section ${shstrndx} (section names) must be a string table (SHT_STRTAB 3), got type ${strRaw.type}`);
  const shstr: ElfSection = { index: shstrndx, name: '', type: strRaw.type, flags: strRaw.flags, offset: strRaw.offset, size: strRaw.size, link: strRaw.link, info: strRaw.info, entsize: strRaw.entsize, headerOffset: strRaw.at, data: dataOf(strRaw) };
  const shstrName = readString(shstr, strRaw.name, `section ${shstrndx} name`, strRaw.at);
  const names: ElfSection = { ...shstr, name: shstrName };
  const sections: ElfSection[] = raw.map((r, index) => ({
    index,
    name: index === 0 ? '' : readString(names, r.name, `section ${index} name`, r.at),
    type: r.type,
    flags: r.flags,
    offset: r.offset,
    size: r.size,
    link: r.link,
    info: r.info,
    entsize: r.entsize,
    headerOffset: r.at,
    data: dataOf(r),
  }));

  const symtabs = sections.filter((s) => s.type === ShType.SYMTAB);
  if (symtabs.length > 1) fail(symtabs[1]!.headerOffset, 'more than one symbol table (SHT_SYMTAB)');
  const symbols = symtabs.length === 1 ? readSymbols({ bytes, sections, symbols: [] }, symtabs[0]!, view) : [];
  return { bytes, sections, symbols };
}

function readSymbols(elf: ElfFile, symtab: ElfSection, view: DataView): ElfSymbol[] {
  if (symtab.entsize !== 24) fail(symtab.headerOffset + 56, `symbol table entry size must be 24, got ${symtab.entsize}`);
  if (symtab.size % 24 !== 0) fail(symtab.headerOffset + 32, `symbol table size ${symtab.size} is not a multiple of 24`);
  if (symtab.link === 0 || symtab.link >= elf.sections.length || elf.sections[symtab.link]!.type !== ShType.STRTAB) {
    fail(symtab.headerOffset + 40, `symbol table's string table index ${symtab.link} does not name a string table`);
  }
  const strtab = elf.sections[symtab.link]!;
  const out: ElfSymbol[] = [];
  for (let i = 0; i < symtab.size / 24; i++) {
    const at = symtab.offset + i * 24;
    const info = view.getUint8(at + 4);
    const shndx = view.getUint16(at + 6, true);
    if (shndx === Shn.XINDEX) fail(at + 6, `symbol ${i}: extended section index (SHN_XINDEX) is not supported`);
    if (shndx !== Shn.UNDEF && shndx < Shn.LORESERVE && shndx >= elf.sections.length) {
      fail(at + 6, `symbol ${i}: section index ${shndx} is out of range (${elf.sections.length} sections)`);
    }
    out.push({
      index: i,
      name: readString(strtab, view.getUint32(at, true), `symbol ${i}`, at),
      value: u64(view, at + 8, `symbol ${i} st_value`),
      size: u64(view, at + 16, `symbol ${i} st_size`),
      type: info & 0xf,
      bind: info >> 4,
      shndx,
      fileOffset: at,
    });
  }
  return out;
}

/** The relocation sections (SHT_REL/SHT_RELA) that apply to `target`. */
export function relSectionsFor(elf: ElfFile, target: ElfSection): ElfSection[] {
  return elf.sections.filter((s) => (s.type === ShType.REL || s.type === ShType.RELA) && s.info === target.index);
}

/** Reads and checks one SHT_REL section (BPF objects never use RELA). */
export function readRelocations(elf: ElfFile, rel: ElfSection): ElfRel[] {
  if (rel.type === ShType.RELA) fail(rel.headerOffset + 4, `relocation section '${rel.name}': RELA relocations are not used by BPF and not supported`);
  if (rel.entsize !== 16) fail(rel.headerOffset + 56, `relocation section '${rel.name}': entry size must be 16, got ${rel.entsize}`);
  if (rel.size % 16 !== 0) fail(rel.headerOffset + 32, `relocation section '${rel.name}': size ${rel.size} is not a multiple of 16`);
  const target = elf.sections[rel.info];
  if (rel.info === 0 || target === undefined) fail(rel.headerOffset + 44, `relocation section '${rel.name}': target section ${rel.info} does not exist`);
  const view = new DataView(elf.bytes.buffer, elf.bytes.byteOffset, elf.bytes.length);
  const out: ElfRel[] = [];
  for (let i = 0; i < rel.size / 16; i++) {
    const at = rel.offset + i * 16;
    const offset = u64(view, at, `relocation ${i} r_offset`);
    const symIdx = view.getUint32(at + 12, true);
    const type = view.getUint32(at + 8, true);
    const symbol = elf.symbols[symIdx];
    if (symbol === undefined || symIdx === 0) {
      fail(at + 12, `relocation ${i} in '${rel.name}': symbol ${symIdx} does not exist (${elf.symbols.length} symbols)`);
    }
    if (offset >= target!.size) {
      fail(at, `relocation ${i} in '${rel.name}': offset ${offset} is outside section '${target!.name}' (${target!.size} bytes)`);
    }
    out.push({ offset, type, symbol: symbol!, fileOffset: at });
  }
  return out;
}

/** Name of a symbol as libbpf shows it: section symbols (static functions/data) take their section's name. */
export function symbolName(elf: ElfFile, sym: ElfSymbol): string {
  if (sym.type === SymType.SECTION && sym.name === '' && sym.shndx < elf.sections.length) return elf.sections[sym.shndx]!.name;
  return sym.name || `#${sym.index}`;
}
