// src/loader — relocations and linking, after libbpf's bpf_program__record_reloc, relocate_data and
// bpf_object__reloc_code: maps/globals/kfuncs are patched in place, then each entry program gets the
// .text subprograms it calls appended (depth first, in order of first call) with call offsets fixed.
import { BpfError } from '../errors.js';
import { JmpOp, Class, LD_IMM64, PseudoCall, PseudoLd } from '../isa/opcodes.js';
import { type ElfFile, type ElfRel, type ElfSection, RelType, Shn, SymBind, SymType, readRelocations, relSectionsFor, relTypeName, symbolName } from './elf.js';

const CALL = Class.JMP | JmpOp.CALL; // 0x85

/** A raw 8-byte instruction slot (ld_imm64 is two of them here). */
export interface Slot {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

export interface FuncSym {
  readonly name: string;
  readonly section: ElfSection;
  /** Slot range inside the section. */
  readonly start: number;
  readonly end: number;
  readonly global: boolean;
}

/** A subprogram reference left for linking. */
interface CodeRelo {
  readonly kind: 'call' | 'func';
  readonly symOff: number;
  readonly rel: ElfRel;
}

export interface CodeSection {
  readonly section: ElfSection;
  readonly slots: Slot[];
  readonly funcs: FuncSym[];
  readonly relos: Map<number, CodeRelo>;
}

/** How data relocations find their target. */
export interface LinkContext {
  readonly elf: ElfFile;
  /** Section index of .text (0 if none). */
  readonly textIndex: number;
  /** Section index of .addr_space.1 (0 if none). */
  readonly arenaSecIndex: number;
  readonly arenaMapIndex: number;
  /** Where the arena globals start inside the arena. */
  readonly arenaGlobalsOffset: number;
  /** `.maps` symbol offset → map index. */
  readonly mapByOffset: ReadonlyMap<number, number>;
  readonly mapsSecIndex: number;
  /** Global-data section index → map index. */
  readonly dataMapBySection: ReadonlyMap<number, number>;
  /** kfunc name → placeholder key; extended as new names appear. */
  readonly kfuncKeys: Map<string, number>;
}

/** Well-known kfuncs keep the keys the kernel corpus uses; others get the next free key. */
const KNOWN_KFUNC_KEYS: Readonly<Record<string, number>> = { bpf_arena_alloc_pages: 0x101, bpf_arena_free_pages: 0x102 };

function kfuncKey(ctx: LinkContext, name: string): number {
  let key = ctx.kfuncKeys.get(name);
  if (key === undefined) {
    key = KNOWN_KFUNC_KEYS[name] ?? 0x110;
    const used = new Set(ctx.kfuncKeys.values());
    while (used.has(key)) key++;
    ctx.kfuncKeys.set(name, key);
  }
  return key;
}

export function readSlots(sec: ElfSection): Slot[] {
  const view = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.length);
  const out: Slot[] = [];
  for (let i = 0; i + 8 <= sec.data.length; i += 8) {
    const regs = view.getUint8(i + 1);
    out.push({ code: view.getUint8(i), dst: regs & 0xf, src: regs >> 4, off: view.getInt16(i + 2, true), imm: view.getInt32(i + 4, true) });
  }
  return out;
}

export function encodeSlots(slots: readonly Slot[]): Uint8Array {
  const out = new Uint8Array(slots.length * 8);
  const view = new DataView(out.buffer);
  slots.forEach((s, i) => {
    view.setUint8(i * 8, s.code);
    view.setUint8(i * 8 + 1, ((s.src & 0xf) << 4) | (s.dst & 0xf));
    view.setInt16(i * 8 + 2, s.off, true);
    view.setInt32(i * 8 + 4, s.imm, true);
  });
  return out;
}

/** Applies the data relocations of one code section and records the subprogram ones. */
export function relocateSection(ctx: LinkContext, cs: CodeSection): void {
  const { elf } = ctx;
  for (const relSec of relSectionsFor(elf, cs.section)) {
    for (const rel of readRelocations(elf, relSec)) {
      const fail = (msg: string): never => {
        throw new BpfError({ byteOffset: rel.fileOffset, message: `relocation in '${relSec.name}' at insn ${rel.offset / 8}: ${msg}` });
      };
      if (rel.offset % 8 !== 0) fail(`offset ${rel.offset} is not at an instruction boundary`);
      const idx = rel.offset / 8;
      const insn = cs.slots[idx]!;
      const sym = rel.symbol;
      const name = symbolName(elf, sym);
      if (insn.code === CALL) {
        if (rel.type !== RelType.R_BPF_64_32) fail(`unsupported relocation type ${relTypeName(rel.type)} for a call (expected R_BPF_64_32)`);
        if (sym.shndx === Shn.UNDEF) {
          // extern __ksym function: a kfunc resolved by name.
          insn.src = PseudoCall.KFUNC;
          insn.imm = kfuncKey(ctx, name);
          insn.off = 0;
          continue;
        }
        if (insn.src !== PseudoCall.CALL) fail(`call to '${name}' has src_reg ${insn.src}, expected 1 (bpf-to-bpf call)`);
        if (sym.shndx !== ctx.textIndex) fail(`call to '${name}' in section '${elf.sections[sym.shndx]?.name ?? sym.shndx}': subprograms must be in .text`);
        if (sym.value % 8 !== 0) fail(`call target '${name}' at byte ${sym.value} is not instruction aligned`);
        cs.relos.set(idx, { kind: 'call', symOff: sym.value, rel });
        continue;
      }
      if (insn.code !== LD_IMM64) fail(`relocation against '${name}' on opcode 0x${insn.code.toString(16)}: only ld_imm64 and call are relocatable`);
      if (idx + 1 >= cs.slots.length) fail('ld_imm64 is missing its second slot');
      if (rel.type !== RelType.R_BPF_64_64) fail(`unsupported relocation type ${relTypeName(rel.type)} for ld_imm64 (expected R_BPF_64_64)`);
      const second = cs.slots[idx + 1]!;
      if (sym.shndx === Shn.UNDEF) fail(`extern variable '${name}' (__ksym/__kconfig variables) is not supported`);
      if (sym.shndx >= Shn.LORESERVE) fail(`reference to '${name}' in special section 0x${sym.shndx.toString(16)} (an uninitialised common global?)`);
      if (sym.shndx === ctx.textIndex) {
        // Address of a subprogram (callback for bpf_loop etc.).
        if (sym.value % 8 !== 0 || insn.imm % 8 !== 0) fail(`function address '${name}' at ${sym.value}+${insn.imm} is not instruction aligned`);
        insn.src = PseudoLd.FUNC;
        cs.relos.set(idx, { kind: 'func', symOff: sym.value, rel });
        continue;
      }
      if (sym.shndx === ctx.arenaSecIndex && ctx.arenaSecIndex !== 0) {
        second.imm = (insn.imm + sym.value + ctx.arenaGlobalsOffset) | 0;
        insn.src = PseudoLd.MAP_VALUE;
        insn.imm = ctx.arenaMapIndex;
        continue;
      }
      if (sym.shndx === ctx.mapsSecIndex && ctx.mapsSecIndex !== 0) {
        const map = ctx.mapByOffset.get(sym.value);
        if (map === undefined) fail(`no map is defined at offset ${sym.value} of .maps (symbol '${name}')`);
        insn.src = PseudoLd.MAP_FD;
        insn.imm = map!;
        continue;
      }
      const dataMap = ctx.dataMapBySection.get(sym.shndx);
      if (dataMap === undefined) fail(`'${name}' is in section '${elf.sections[sym.shndx]!.name}', which is neither code, a map nor global data`);
      second.imm = (insn.imm + sym.value) | 0;
      insn.src = PseudoLd.MAP_VALUE;
      insn.imm = dataMap!;
    }
  }
}

/** FUNC symbols of a code section, sorted, checked against the section's bounds. */
export function sectionFuncs(elf: ElfFile, sec: ElfSection, isText: boolean): FuncSym[] {
  const syms = elf.symbols.filter((s) => s.shndx === sec.index && s.type === SymType.FUNC);
  const funcs: FuncSym[] = [];
  for (const s of syms) {
    const fail = (msg: string): never => {
      throw new BpfError({ byteOffset: s.fileOffset, message: `function '${s.name}' in '${sec.name}': ${msg}` });
    };
    if (s.value % 8 !== 0 || s.size % 8 !== 0 || s.size === 0) fail(`offset ${s.value} / size ${s.size} must be non-zero multiples of 8`);
    if (s.value + s.size > sec.size) fail(`bytes ${s.value}..${s.value + s.size} are outside the section (${sec.size} bytes)`);
    if (!isText && s.bind === SymBind.LOCAL) fail('programs must be global (static functions belong in .text)');
    funcs.push({ name: s.name, section: sec, start: s.value / 8, end: (s.value + s.size) / 8, global: s.bind !== SymBind.LOCAL });
  }
  funcs.sort((a, b) => a.start - b.start);
  for (let i = 1; i < funcs.length; i++) {
    if (funcs[i]!.start < funcs[i - 1]!.end) {
      throw new BpfError({ byteOffset: sec.headerOffset, message: `section '${sec.name}': functions '${funcs[i - 1]!.name}' and '${funcs[i]!.name}' overlap` });
    }
  }
  return funcs;
}

export interface LinkedFunc {
  readonly func: FuncSym;
  /** First slot in the linked program. */
  readonly pc: number;
}

/** Builds one entry program: its own code plus every .text subprogram it reaches (libbpf's reloc_code). */
export function linkProgram(main: FuncSym, code: ReadonlyMap<number, CodeSection>, textIndex: number): { slots: Slot[]; funcs: LinkedFunc[] } {
  const out: Slot[] = [];
  const placed = new Map<FuncSym, number>();
  const funcs: LinkedFunc[] = [];
  const append = (f: FuncSym): number => {
    const pc = out.length;
    const cs = code.get(f.section.index)!;
    for (let i = f.start; i < f.end; i++) out.push({ ...cs.slots[i]! });
    placed.set(f, pc);
    funcs.push({ func: f, pc });
    return pc;
  };
  const reloc = (f: FuncSym, base: number): void => {
    const cs = code.get(f.section.index)!;
    for (let i = 0; i < f.end - f.start; i++) {
      const insn = out[base + i]!;
      const isCall = insn.code === CALL && insn.src === PseudoCall.CALL && insn.dst === 0 && insn.off === 0;
      const isFunc = insn.code === LD_IMM64 && insn.src === PseudoLd.FUNC;
      if (!isCall && !isFunc) continue;
      const relo = cs.relos.get(f.start + i);
      const where = `function '${f.name}' (section '${f.section.name}'), insn ${i}`;
      let target: number;
      if (relo) {
        target = relo.kind === 'call' ? relo.symOff / 8 + insn.imm + 1 : (relo.symOff + insn.imm) / 8;
      } else if (isFunc) {
        throw new BpfError({ message: `${where}: function address without a relocation` });
      } else if (f.section.index === textIndex) {
        target = f.start + i + insn.imm + 1; // static call inside .text: already pc-relative
      } else {
        throw new BpfError({ message: `${where}: bpf-to-bpf call without a relocation outside .text` });
      }
      const text = code.get(textIndex);
      const sub = text?.funcs.find((s) => s.start <= target && target < s.end);
      if (!sub) throw new BpfError({ message: `${where}: call target is .text instruction ${target}, which is not inside any function` });
      if (sub.start !== target) throw new BpfError({ message: `${where}: call into the middle of '${sub.name}' (instruction ${target - sub.start})` });
      let subPc = placed.get(sub);
      if (subPc === undefined) {
        subPc = append(sub);
        reloc(sub, subPc);
      }
      out[base + i]!.imm = subPc - (base + i) - 1;
    }
  };
  reloc(main, append(main));
  return { slots: out, funcs };
}
