// src/kernel — raw corpus bytecode → what bpf(BPF_PROG_LOAD) accepts. The corpus names maps by index
// (map 0 = the arena) and kfuncs by a key of the sidecar's table (kernel-corpus/README.md):
// ld_imm64 src 1 imm 0 → the arena map fd; ld_imm64 src 2 imm 0 → BPF_PSEUDO_MAP_VALUE of the arena fd
// (the second slot's imm stays the offset); call src 2 imm KEY → the kfunc's vmlinux BTF id. ELF objects'
// other maps are created by maps.ts and named by their index here.
import { insnError } from '../errors.js';
import type { RunEnv } from '../env.js';
import { encode } from '../isa/codec.js';
import type { Insn, Program } from '../isa/insn.js';
import { LD_IMM64, PseudoCall, PseudoLd } from '../isa/opcodes.js';

const CALL = 0x85;

export interface Placed {
  /** The loadable bytecode. */
  readonly bytes: Uint8Array;
  /** Names of the kfuncs the program calls, in first-use order. */
  readonly kfuncs: readonly string[];
  /** Whether the program refers to the arena map. */
  readonly usesArenaMap: boolean;
}

/** Sidecar key ("0x101") → kfunc name, with keys normalised to numbers. */
function kfuncTable(env: RunEnv): Map<number, string> {
  const t = new Map<number, string>();
  for (const [k, name] of Object.entries(env.kfuncs)) {
    const n = Number(k);
    if (Number.isInteger(n)) t.set(n >>> 0, name);
  }
  return t;
}

/**
 * Replaces the placeholders. `arenaFd` is the arena map's fd (null when the env has no arena);
 * `btfId` maps a kfunc name to its BTF id.
 */
export function resolvePlaceholders(
  prog: Program,
  env: RunEnv,
  arenaFd: number | null,
  btfId: (name: string) => number,
  /** ELF objects: map index → fd of its other maps (the arena keeps index 0). */
  mapFds: ReadonlyMap<number, number> = new Map(),
): Placed {
  const table = kfuncTable(env);
  const used: string[] = [];
  let usesArenaMap = false;
  const insns = prog.insns.map((insn): Insn => {
    if (insn.code === LD_IMM64 && (insn.src === PseudoLd.MAP_FD || insn.src === PseudoLd.MAP_VALUE)) {
      const fd = mapFds.get(insn.imm);
      if (fd !== undefined) return { ...insn, imm: fd };
      if (insn.imm !== 0) throw insnError(insn.pc, `ld_imm64 names map ${insn.imm}; only map 0 (the arena) exists`);
      if (arenaFd === null) throw insnError(insn.pc, 'ld_imm64 refers to the arena map but the environment has no arena');
      usesArenaMap = true;
      return { ...insn, imm: arenaFd };
    }
    if (insn.code === CALL && insn.src === PseudoCall.KFUNC) {
      const name = table.get(insn.imm >>> 0);
      if (name === undefined) throw insnError(insn.pc, `kfunc call key 0x${(insn.imm >>> 0).toString(16)} is not in the environment's kfuncs table`);
      if (!used.includes(name)) used.push(name);
      return { ...insn, imm: btfId(name) };
    }
    return insn;
  });
  return { bytes: encode({ insns, slots: prog.slots }), kfuncs: used, usesArenaMap };
}
