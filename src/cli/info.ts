// `bpfjit info FILE.o`: what a BPF object file contains — programs, maps, arena, BTF.
import { loadObject } from '../loader/index.js';
import type { BpfObject } from '../loader/index.js';
import { Exit, parseCommandArgs, type Command } from './command.js';
import { readInput } from './io.js';
import { UsageError } from '../errors.js';

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

export function formatObjectInfo(obj: BpfObject): string {
  const lines: string[] = [`license: ${obj.license || '(none)'}`, '', `programs (${obj.programs.length}):`];
  for (const p of obj.programs) {
    lines.push(`  ${p.name}  SEC("${p.section}")  type ${p.progType}${p.sleepable ? ' (sleepable)' : ''}  ${p.insns.slots} insns`);
    for (const f of p.functions.slice(1)) {
      const tags = f.arenaArgs.length ? `  arena args: ${f.arenaArgs.map((i) => f.params[i] ?? `#${i}`).join(', ')}` : '';
      lines.push(`    + ${f.global ? 'global' : 'static'} ${f.name} at insn ${f.pc} (${f.slots} insns)${tags}`);
    }
    const kf = Object.entries(p.kfuncs).map(([k, n]) => `${n} (${k})`);
    if (kf.length) lines.push(`    kfuncs: ${kf.join(', ')}`);
  }
  lines.push('', `maps (${obj.maps.length}):`);
  for (const m of obj.maps) {
    const extra = m.mapExtra !== 0n ? ` map_extra ${hex(m.mapExtra)}` : '';
    lines.push(`  ${m.index}: ${m.name}  ${m.kind}  key ${m.keySize} value ${m.valueSize} max_entries ${m.maxEntries} flags ${hex(m.flags)}${extra}`);
  }
  const a = obj.arena;
  lines.push('', a ? `arena: map ${a.mapIndex}, ${a.pages} pages, flags ${hex(a.flags)}, user_vm_start ${a.mapExtra === 0n ? 'chosen at mmap' : hex(a.mapExtra)}, __arena globals ${a.globalsSize} bytes at offset ${hex(a.globalsOffset)}` : 'arena: none');
  const b = obj.btf;
  lines.push(b ? `BTF: ${b.types} types, ${b.funcs} functions, ${b.funcInfo} func_info, ${b.lineInfo} line_info, ${b.arenaArgTags} arg:arena tags` : 'BTF: none');
  return lines.join('\n');
}

/** JSON form: bigints as hex strings, byte arrays as hex, instructions as their count. */
export function objectInfoJson(obj: BpfObject): object {
  const bytes = (b: Uint8Array | undefined): string | undefined => (b ? Buffer.from(b).toString('hex') : undefined);
  return {
    license: obj.license,
    programs: obj.programs.map((p) => ({
      name: p.name, section: p.section, progType: p.progType, sleepable: p.sleepable, insns: p.insns.slots,
      functions: p.functions, kfuncs: p.kfuncs, mapsUsed: p.mapsUsed, lineInfo: p.lineInfo.length,
    })),
    maps: obj.maps.map((m) => ({ ...m, mapExtra: hex(m.mapExtra), initialValue: bytes(m.initialValue) })),
    arena: obj.arena && { ...obj.arena, mapExtra: hex(obj.arena.mapExtra), globals: bytes(obj.arena.globals) },
    btf: obj.btf,
    kfuncs: obj.kfuncs,
  };
}

export const info: Command = {
  name: 'info',
  help: `Usage: bpfjit info FILE.o [--json]

Reads an ELF object compiled with clang -target bpf (-g for BTF) and prints each program
(section, name, instruction count, appended subprograms, kfuncs), each map (index as used by the
program's ld_imm64 placeholders; the arena is map 0), the arena with its __arena globals, and a
BTF summary.
  --json   the same as JSON (with each function, map spec and the arena's initial globals)`,
  run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    if (positionals.length !== 1) throw new UsageError('expected exactly one object file');
    const obj = loadObjectFile(positionals[0]!);
    console.log(values.json ? JSON.stringify(objectInfoJson(obj), null, 1) : formatObjectInfo(obj));
    return Exit.OK;
  },
};

/** Reads and loads an object file (read errors and malformed objects are BpfErrors). */
export function loadObjectFile(path: string): BpfObject {
  return loadObject(readInput(path));
}
