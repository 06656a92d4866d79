// src/loader — the object model a loaded BPF object file becomes (what `loadObject` returns).
import type { Program } from '../isa/insn.js';
import type { BpfMapSpec } from './maps.js';

export type { BpfMapSpec } from './maps.js';

/** One function of a linked program: the entry point first, then appended .text subprograms. */
export interface BpfFunction {
  readonly name: string;
  /** First slot in the linked program. */
  readonly pc: number;
  readonly slots: number;
  /** ELF section the code came from. */
  readonly section: string;
  /** Global (STB_GLOBAL) functions are verified on their own by the kernel; static ones are inlined in the caller's verification. */
  readonly global: boolean;
  /** BTF id of the function's FUNC type (func_info), 0 without BTF. */
  readonly btfTypeId: number;
  /** Parameter names from BTF (empty without BTF). */
  readonly params: readonly string[];
  /** Indices of parameters tagged decl_tag("arg:arena") (`__arg_arena`). */
  readonly arenaArgs: readonly number[];
}

/** A BTF line_info record placed in the linked program. */
export interface SourceLine {
  readonly pc: number;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The C source line as clang stored it. */
  readonly text: string;
}

export interface BpfProgram {
  /** The function's name (libbpf's program name). */
  readonly name: string;
  /** ELF section, i.e. SEC("..."). */
  readonly section: string;
  /** Program type derived from the section name as libbpf does ('syscall', 'xdp', 'tracepoint', …; 'unknown'). */
  readonly progType: string;
  /** libbpf loads these sleepable (BPF_F_SLEEPABLE): SEC("syscall"), "*.s/…". */
  readonly sleepable: boolean;
  /**
   * The linked program in the placeholder convention of the kernel corpus: ld_imm64 src 1/2 carry
   * imm = map index (src 2: offset in the second slot's imm), src 4 = relative function address,
   * call src 1 = bpf-to-bpf call (relative), call src 2 = kfunc with imm = a key of `kfuncs`.
   */
  readonly insns: Program;
  readonly functions: readonly BpfFunction[];
  /** Sorted by pc; empty without .BTF.ext. */
  readonly lineInfo: readonly SourceLine[];
  /** kfunc placeholder table of this program: "0x101" → name. */
  readonly kfuncs: Readonly<Record<string, string>>;
  /** Indices of the maps the program references. */
  readonly mapsUsed: readonly number[];
}

/** The arena map and the `__arena` globals (.addr_space.1) placed in it. */
export interface ArenaLayout {
  readonly mapIndex: number;
  readonly pages: number;
  readonly flags: number;
  readonly mapExtra: bigint;
  /** Byte offset in the arena where the globals start (page aligned). */
  readonly globalsOffset: number;
  readonly globalsSize: number;
  /** Initial contents of the globals (copied into the arena from user space before the run). */
  readonly globals: Uint8Array;
}

export interface BtfSummary {
  readonly types: number;
  /** FUNC types (functions with BTF). */
  readonly funcs: number;
  readonly funcInfo: number;
  readonly lineInfo: number;
  /** decl_tag("arg:arena") tags. */
  readonly arenaArgTags: number;
}

export interface BpfObject {
  readonly license: string;
  readonly programs: readonly BpfProgram[];
  /** Indexed by BpfMapSpec.index; the arena (if any) is map 0. */
  readonly maps: readonly BpfMapSpec[];
  readonly arena: ArenaLayout | null;
  readonly btf: BtfSummary | null;
  /** All kfunc placeholders of the object. */
  readonly kfuncs: Readonly<Record<string, string>>;
}

export interface LoadOptions {
  /**
   * Where `__arena` globals go: 'start' (libbpf through v1.6, the one matching Linux 6.18: arena offset 0)
   * or 'end' (the last pages of the arena, as a libbpf patch of November 2025 does). Default 'start'.
   */
  readonly arenaGlobals?: 'start' | 'end';
}
