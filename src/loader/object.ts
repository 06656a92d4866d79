// src/loader — loadObject: an ELF BPF object (clang -target bpf) → programs, maps, arena, BTF facts,
// and programEnv: one program of it → what the pipeline runs (Program + RunEnv + maps).
import { BpfError } from '../errors.js';
import { decode } from '../isa/codec.js';
import type { Program } from '../isa/insn.js';
import { LD_IMM64, PseudoCall, PseudoLd } from '../isa/opcodes.js';
import type { RunEnv } from '../env.js';
import { type Btf, BtfKind, type BtfExt, arenaArgs, btfType, parseBtf, parseBtfExt } from './btf.js';
import { type ElfFile, type ElfSection, ShFlag, ShType, parseElf } from './elf.js';
import { type CodeSection, type LinkContext, encodeSlots, linkProgram, readSlots, relocateSection, sectionFuncs } from './link.js';
import { type MapDraft, type BpfMapSpec, MapType, btfMaps, dataMaps } from './maps.js';
import type { ArenaLayout, BpfFunction, BpfObject, BpfProgram, LoadOptions, SourceLine } from './types.js';

const PAGE = 4096;
const ARENA_SEC = '.addr_space.1';

/** Program type and sleepability from SEC() names (a subset of libbpf's section_defs). */
const SEC_TYPES: readonly (readonly [string, string])[] = [
  ['syscall', 'syscall'], ['xdp', 'xdp'], ['tc', 'sched_cls'], ['classifier', 'sched_cls'], ['action', 'sched_act'],
  ['socket', 'socket_filter'], ['tracepoint', 'tracepoint'], ['tp', 'tracepoint'], ['raw_tracepoint', 'raw_tracepoint'],
  ['raw_tp', 'raw_tracepoint'], ['tp_btf', 'tracing'], ['fentry', 'tracing'], ['fexit', 'tracing'], ['fmod_ret', 'tracing'],
  ['iter', 'tracing'], ['kprobe', 'kprobe'], ['kretprobe', 'kprobe'], ['uprobe', 'kprobe'], ['uretprobe', 'kprobe'],
  ['ksyscall', 'kprobe'], ['perf_event', 'perf_event'], ['lsm', 'lsm'], ['struct_ops', 'struct_ops'], ['cgroup_skb', 'cgroup_skb'],
  ['cgroup', 'cgroup'], ['sk_skb', 'sk_skb'], ['sk_msg', 'sk_msg'], ['flow_dissector', 'flow_dissector'], ['netfilter', 'netfilter'],
  ['tcx', 'sched_cls'], ['netkit', 'sched_cls'], ['sockops', 'sock_ops'], ['sk_lookup', 'sk_lookup'], ['sk_reuseport', 'sk_reuseport'],
  ['lwt_in', 'lwt_in'], ['lwt_out', 'lwt_out'], ['lwt_xmit', 'lwt_xmit'], ['usdt', 'kprobe'],
];

export function sectionProgType(section: string): { progType: string; sleepable: boolean } {
  const name = section.startsWith('?') ? section.slice(1) : section;
  const head = name.split('/')[0]!;
  const base = head.endsWith('.s') ? head.slice(0, -2) : head;
  const hit = SEC_TYPES.find(([p]) => base === p || base.startsWith(`${p}.`));
  return { progType: hit ? hit[1] : 'unknown', sleepable: base === 'syscall' || head.endsWith('.s') };
}

function readLicense(elf: ElfFile): string {
  const sec = elf.sections.find((s) => s.name === 'license');
  if (!sec) return '';
  const end = sec.data.indexOf(0);
  return new TextDecoder().decode(sec.data.subarray(0, end < 0 ? sec.data.length : end));
}

function readBtf(elf: ElfFile): { btf: Btf | null; ext: BtfExt | null } {
  const b = elf.sections.find((s) => s.name === '.BTF');
  if (!b) return { btf: null, ext: null };
  const btf = parseBtf(b.data, b.offset);
  const e = elf.sections.find((s) => s.name === '.BTF.ext');
  return { btf, ext: e ? parseBtfExt(e.data, e.offset, btf) : null };
}

/** Orders maps as the placeholder convention wants (arena first) and checks the arena rules. */
function collectMaps(elf: ElfFile, btf: Btf | null): { maps: BpfMapSpec[]; drafts: MapDraft[] } {
  const mapsSec = elf.sections.find((s) => s.name === '.maps');
  const btfDefined = mapsSec ? btfMaps(elf, btf, mapsSec) : [];
  const legacy = elf.sections.find((s) => s.name === 'maps' && s.type === ShType.PROGBITS);
  if (legacy) throw new BpfError({ byteOffset: legacy.headerOffset, message: "legacy SEC(\"maps\") map definitions are not supported: use BTF-defined maps in SEC(\".maps\")" });
  const arenas = btfDefined.filter((m) => m.type === MapType.ARENA);
  if (arenas.length > 1) throw new BpfError({ byteOffset: mapsSec!.headerOffset, message: `only one arena map is supported, found ${arenas.map((a) => a.name).join(', ')}` });
  const drafts = [...arenas, ...btfDefined.filter((m) => m.type !== MapType.ARENA), ...dataMaps(elf, btf)];
  const maps = drafts.map(({ sectionIndex: _s, offset: _o, ...spec }, index) => ({ ...spec, index }));
  return { maps, drafts };
}

function arenaLayout(elf: ElfFile, maps: readonly BpfMapSpec[], opts: LoadOptions): ArenaLayout | null {
  const sec = elf.sections.find((s) => s.name === ARENA_SEC);
  const map = maps.find((m) => m.type === MapType.ARENA);
  if (!map) {
    if (sec && sec.size > 0) throw new BpfError({ byteOffset: sec.headerOffset, message: `section '${ARENA_SEC}' (__arena globals) needs an arena map declared in SEC(".maps")` });
    return null;
  }
  if (map.maxEntries === 0 || map.maxEntries > 2 ** 32 / PAGE) {
    throw new BpfError({ message: `arena '${map.name}': max_entries ${map.maxEntries} pages is outside 1..${2 ** 32 / PAGE} (the arena is at most 4 GiB)` });
  }
  const size = sec?.size ?? 0;
  const alloc = Math.ceil(size / PAGE) * PAGE;
  if (alloc > map.maxEntries * PAGE) {
    throw new BpfError({ byteOffset: sec!.headerOffset, message: `arena '${map.name}' (${map.maxEntries} pages) is too small for ${size} bytes of __arena globals` });
  }
  const globals = new Uint8Array(size); // zeros when .addr_space.1 is NOBITS
  if (sec) globals.set(sec.data);
  return {
    mapIndex: map.index, pages: map.maxEntries, flags: map.flags, mapExtra: map.mapExtra,
    globalsOffset: opts.arenaGlobals === 'end' ? map.maxEntries * PAGE - alloc : 0,
    globalsSize: size, globals,
  };
}

function funcMeta(btf: Btf | null, ext: BtfExt | null, sec: ElfSection, start: number): { btfTypeId: number; params: string[]; arenaArgs: number[] } {
  const rec = ext?.funcInfo.get(sec.name)?.find((r) => r.insn === start);
  if (!btf || !rec) return { btfTypeId: 0, params: [], arenaArgs: [] };
  const fn = btfType(btf, rec.typeId);
  const proto = btfType(btf, fn.sizeOrType);
  return {
    btfTypeId: fn.id,
    params: proto.kind === BtfKind.FUNC_PROTO ? proto.members.map((m) => m.name) : [],
    arenaArgs: arenaArgs(btf).get(fn.id) ?? [],
  };
}

export function loadObject(bytes: Uint8Array, opts: LoadOptions = {}): BpfObject {
  const elf = parseElf(bytes);
  const { btf, ext } = readBtf(elf);
  const { maps, drafts } = collectMaps(elf, btf);
  const arena = arenaLayout(elf, maps, opts);
  const text = elf.sections.find((s) => s.name === '.text' && s.type === ShType.PROGBITS);
  const arenaSec = elf.sections.find((s) => s.name === ARENA_SEC);
  const mapsSec = elf.sections.find((s) => s.name === '.maps');
  const ctx: LinkContext = {
    elf,
    textIndex: text?.index ?? 0,
    arenaSecIndex: arenaSec?.index ?? 0,
    arenaMapIndex: arena?.mapIndex ?? -1,
    arenaGlobalsOffset: arena?.globalsOffset ?? 0,
    mapsSecIndex: mapsSec?.index ?? 0,
    mapByOffset: new Map(drafts.flatMap((d, i) => (d.origin === 'btf' ? [[d.offset, i] as const] : []))),
    dataMapBySection: new Map(drafts.flatMap((d, i) => (d.origin !== 'btf' ? [[d.sectionIndex, i] as const] : []))),
    kfuncKeys: new Map(),
  };

  const code = new Map<number, CodeSection>();
  for (const sec of elf.sections) {
    if (sec.type !== ShType.PROGBITS || !(sec.flags & ShFlag.EXECINSTR) || sec.size === 0) continue;
    if (sec.size % 8 !== 0) throw new BpfError({ byteOffset: sec.headerOffset, message: `code section '${sec.name}': size ${sec.size} is not a multiple of 8` });
    const cs: CodeSection = { section: sec, slots: readSlots(sec), funcs: sectionFuncs(elf, sec, sec.index === ctx.textIndex), relos: new Map() };
    code.set(sec.index, cs);
  }
  for (const cs of code.values()) relocateSection(ctx, cs);

  const programs: BpfProgram[] = [];
  for (const cs of code.values()) {
    if (cs.section.index === ctx.textIndex) continue;
    for (const main of cs.funcs) {
      const linked = linkProgram(main, code, ctx.textIndex);
      const insns = decodeLinked(encodeSlots(linked.slots), main.name);
      const functions: BpfFunction[] = linked.funcs.map(({ func, pc }) => ({
        name: func.name, pc, slots: func.end - func.start, section: func.section.name, global: func.global,
        ...funcMeta(btf, ext, func.section, func.start),
      }));
      const lineInfo: SourceLine[] = linked.funcs.flatMap(({ func, pc }) =>
        (ext?.lineInfo.get(func.section.name) ?? [])
          .filter((r) => r.insn >= func.start && r.insn < func.end)
          .map((r) => ({ pc: r.insn - func.start + pc, file: r.file, line: r.line, col: r.col, text: r.text })),
      ).sort((a, b) => a.pc - b.pc);
      programs.push({
        name: main.name, section: cs.section.name, ...sectionProgType(cs.section.name), insns, functions, lineInfo,
        ...usage(insns, ctx.kfuncKeys),
      });
    }
  }
  const kfuncs = Object.fromEntries([...ctx.kfuncKeys].map(([n, k]) => [hexKey(k), n]));
  return { license: readLicense(elf), programs, maps, arena, btf: btf && btfSummary(btf, ext), kfuncs };
}

const hexKey = (k: number): string => `0x${k.toString(16)}`;

function decodeLinked(bytes: Uint8Array, name: string): Program {
  try {
    return decode(bytes);
  } catch (e) {
    if (e instanceof BpfError) throw new BpfError(e.diagnostics.map((d) => ({ ...d, message: `program '${name}': ${d.message}` })));
    throw e;
  }
}

function usage(prog: Program, keys: ReadonlyMap<string, number>): { kfuncs: Record<string, string>; mapsUsed: number[] } {
  const kfuncs: Record<string, string> = {};
  const maps = new Set<number>();
  const byKey = new Map([...keys].map(([n, k]) => [k, n]));
  for (const i of prog.insns) {
    if (i.code === LD_IMM64 && (i.src === PseudoLd.MAP_FD || i.src === PseudoLd.MAP_VALUE)) maps.add(i.imm);
    if (i.code === 0x85 && i.src === PseudoCall.KFUNC && byKey.has(i.imm)) kfuncs[hexKey(i.imm)] = byKey.get(i.imm)!;
  }
  return { kfuncs, mapsUsed: [...maps].sort((a, b) => a - b) };
}

function btfSummary(btf: Btf, ext: BtfExt | null): BpfObject['btf'] {
  const count = (m: ReadonlyMap<string, readonly unknown[]> | undefined): number => [...(m?.values() ?? [])].reduce((n, l) => n + l.length, 0);
  return {
    types: btf.types.length - 1,
    funcs: btf.types.filter((t) => t.kind === BtfKind.FUNC).length,
    funcInfo: count(ext?.funcInfo),
    lineInfo: count(ext?.lineInfo),
    arenaArgTags: [...arenaArgs(btf).values()].reduce((n, l) => n + l.length, 0),
  };
}

/** The source line for an instruction: the closest line_info record at or before `pc` inside the same function. */
export function sourceLineAt(prog: BpfProgram, pc: number): SourceLine | undefined {
  const fn = prog.functions.find((f) => pc >= f.pc && pc < f.pc + f.slots);
  if (!fn) return undefined;
  let best: SourceLine | undefined;
  for (const l of prog.lineInfo) {
    if (l.pc > pc) break;
    if (l.pc >= fn.pc) best = l;
  }
  return best;
}

/** Finds a program by name (or section name); lists the choices when it is missing or ambiguous. */
export function findProgram(obj: BpfObject, name?: string): BpfProgram {
  const list = obj.programs.map((p) => `${p.name} (SEC("${p.section}"), ${p.insns.slots} insns)`).join(', ');
  if (obj.programs.length === 0) throw new BpfError({ message: 'the object contains no programs' });
  if (name === undefined) {
    if (obj.programs.length === 1) return obj.programs[0]!;
    throw new BpfError({ message: `the object has ${obj.programs.length} programs; choose one with --prog NAME: ${list}` });
  }
  const hits = obj.programs.filter((p) => p.name === name);
  const found = hits.length > 0 ? hits : obj.programs.filter((p) => p.section === name);
  if (found.length === 1) return found[0]!;
  throw new BpfError({ message: `${found.length === 0 ? 'no' : 'more than one'} program named '${name}'; programs: ${list}` });
}

export interface ProgramRun {
  readonly program: Program;
  readonly env: RunEnv;
  /** All maps of the object, indexed as in the program's ld_imm64 placeholders (arena = 0 when present). */
  readonly maps: readonly BpfMapSpec[];
}

/**
 * One program of an object in the pipeline's terms. The arena globals become `prefault` pages (libbpf
 * writes them through the user mapping before loading, which also allocates those pages).
 */
export function programEnv(obj: BpfObject, prog: BpfProgram, opts: { ctx?: string } = {}): ProgramRun {
  const prefault: Record<string, string> = {};
  const a = obj.arena;
  if (a && a.globalsSize > 0) {
    const firstPage = a.globalsOffset / PAGE;
    for (let p = 0; p * PAGE < a.globalsSize; p++) {
      const page = new Uint8Array(PAGE);
      page.set(a.globals.subarray(p * PAGE, (p + 1) * PAGE));
      prefault[String(firstPage + p)] = Buffer.from(page).toString('hex');
    }
  }
  const env: RunEnv = {
    arena: a ? { pages: a.pages, flags: a.flags, map_extra: a.mapExtra } : null,
    kfuncs: prog.kfuncs,
    prefault,
    ctx: opts.ctx ?? '',
  };
  return { program: prog.insns, env, maps: obj.maps };
}
