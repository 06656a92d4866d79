// src/emu — the whole pipeline for one engine: the program's environment in guest memory (arena, maps),
// the verifier's rewrites with this engine's helper/kfunc/map addresses, the JIT at image bases of this
// address space, and the images loaded. `bpfjit run`, `dump`, the conformance engine and the fuzzer all
// compile through here, so they see the same machine code.
import { BpfError, insnError } from '../errors.js';
import type { RunEnv } from '../env.js';
import { arenaFromEnv, type Arena } from '../arena/index.js';
import type { Dialect, Program } from '../isa/insn.js';
import { LD_IMM64, PseudoLd } from '../isa/opcodes.js';
import { frontEnd, functionRanges } from '../jit/frontend/index.js';
import { jit, JIT_DEFAULTS, type JitResultEx } from '../jit/index.js';
import type { Engine } from './engine.js';
import { LAYOUT } from './layout.js';
import type { BpfMap } from './maps.js';

/** Where the arena's `struct bpf_map *` appears to live (the program only passes it to kfuncs). */
export const ARENA_MAP_PTR = LAYOUT.maps - 0x1000000n;

/** A map of the program (e.g. from an ELF object), by the index its ld_imm64 placeholders use. */
export interface MapInit {
  readonly index: number;
  readonly name: string;
  readonly kind: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** Element 0's initial bytes (.data/.rodata/.bss). */
  readonly initialValue?: Uint8Array;
}

export interface CompileOptions {
  /** 'standard' (default): run the verifier's rewrites; 'kernel-xlated': the program is already rewritten. */
  readonly dialect?: Dialect;
  readonly env: RunEnv;
  /** Maps other than the arena (the arena is map 0 when env.arena is set). */
  readonly maps?: readonly MapInit[];
  /** Instructions the kernel's verifier visited (from its log): dead code removed exactly as it did. */
  readonly visited?: ReadonlySet<number>;
  /** Arena placement (default: the arena model's choice). */
  readonly kernVmStart?: bigint;
  readonly userVmStart?: bigint;
}

export interface Compiled {
  /** What the JIT consumed (kernel-xlated). */
  readonly xlated: Program;
  readonly result: JitResultEx;
  /** The arena, with prefault pages written; the caller disposes it. */
  readonly arena: Arena | null;
  readonly maps: ReadonlyMap<number, BpfMap>;
}

/** Image base of each function (main first, then subprograms in program order). */
function functionBases(count: number): bigint[] {
  return Array.from({ length: count }, (_, i) => JIT_DEFAULTS.imageBase + BigInt(i) * 0x10000n);
}

/**
 * ld_imm64 of a BPF function (src_reg 4, imm = offset to it) becomes its image address, as the kernel's
 * jit_subprogs does before the final JIT (bpf_loop callbacks).
 */
function resolveFuncPointers(prog: Program, starts: readonly number[], bases: readonly bigint[]): Program {
  if (!prog.insns.some((i) => i.code === LD_IMM64 && i.src === PseudoLd.FUNC)) return prog;
  return {
    ...prog,
    insns: prog.insns.map((insn) => {
      if (insn.code !== LD_IMM64 || insn.src !== PseudoLd.FUNC) return insn;
      const idx = starts.indexOf(insn.pc + insn.imm + 1);
      if (idx < 0) throw insnError(insn.pc, `ld_imm64 of a function: insn ${insn.pc + insn.imm + 1} does not start a function`);
      const addr = bases[idx]!;
      return { ...insn, imm: Number(BigInt.asIntN(32, addr)), imm2: Number(BigInt.asIntN(32, addr >> 32n)) };
    }),
  };
}

function createMaps(engine: Engine, maps: readonly MapInit[]): Map<number, BpfMap> {
  const out = new Map<number, BpfMap>();
  for (const m of maps) {
    if (m.kind === 'arena') continue;
    if (m.kind !== 'array' && m.kind !== 'hash') throw new BpfError({ message: `map ${m.name}: type ${m.kind} is not supported by the emulator` });
    const map = engine.addMap({ kind: m.kind, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries });
    if (m.initialValue) map.update(new Uint8Array(4), m.initialValue, 0n);
    out.set(m.index, map);
  }
  return out;
}

/** Compiles `prog` for `engine` and loads the images into it. */
export function compileFor(engine: Engine, prog: Program, opts: CompileOptions): Compiled {
  const { env } = opts;
  let arena: Arena | null = null;
  try {
    arena = arenaFromEnv(env, { kernVmStart: opts.kernVmStart, userVmStart: opts.userVmStart });
    const maps = createMaps(engine, opts.maps ?? []);
    const resolveMap = (index: number, what: { kind: 'map' } | { kind: 'value'; off: number }): bigint => {
      const map = maps.get(index);
      if (!map) throw new BpfError({ message: `the program uses map ${index}, which the environment does not define` });
      return what.kind === 'map' ? map.ptr : map.valueAddr(0) + BigInt(what.off);
    };
    let xlated = prog;
    let stackDepth: readonly number[] | undefined;
    let functionStarts: number[];
    if ((opts.dialect ?? 'standard') === 'standard') {
      const fe = frontEnd(prog, {
        visited: opts.visited,
        callBase: engine.callBase,
        resolveCall: (c) =>
          c.kind === 'helper' ? engine.resolveCall('helper', c.id) : c.kind === 'kfunc' ? engine.resolveCall('kfunc', c.name) : engine.inlineSymbols.timedMayGoto,
        kfuncs: env.kfuncs,
        resolveMap,
        arena: arena ? { mapPtr: ARENA_MAP_PTR, userVmStart: arena.userVmStart, kernVmStart: arena.kernVmStart, flags: arena.flags } : null,
        jiffiesAddr: engine.inlineSymbols.jiffies,
        cpuNumberAddr: Number(engine.inlineSymbols.cpuNumber & 0xffffffffn),
      });
      xlated = fe.prog;
      stackDepth = fe.stackDepth;
      functionStarts = fe.functions.map((f) => f.firstPc);
    } else {
      functionStarts = functionRanges(prog).map((f) => f.firstPc);
    }
    const imageBase = functionBases(functionStarts.length);
    xlated = resolveFuncPointers(xlated, functionStarts, imageBase);
    const result = jit(xlated, {
      imageBase,
      functionStarts,
      callBase: engine.callBase,
      kernVmStart: arena?.kernVmStart,
      userVmStart: arena?.userVmStart,
      stackDepth,
      thisCpuOff: Number(engine.inlineSymbols.thisCpuOff & 0xffffffffn),
    });
    engine.load(result.functions, { trusted: true });
    engine.setArena(arena);
    return { xlated, result, arena, maps };
  } catch (e) {
    arena?.dispose();
    throw e;
  }
}
