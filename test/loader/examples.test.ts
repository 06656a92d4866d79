// Loading the example objects (examples/*.bpf.o). Expected ELF facts come from LLVM's own tools
// (test/fixtures/loader/expected.json, written by gen-expected.py with llvm-readelf/llvm-objdump);
// expected maps and values come from the C sources in examples/.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { kernelBtf, loadObject, parseElf, programEnv, sectionProgType, sourceLineAt, findProgram, type BpfObject, type BpfProgram } from '../../src/loader/index.js';
import { BtfKind, parseBtf } from '../../src/loader/btf.js';
import { LD_IMM64, PseudoCall, PseudoLd } from '../../src/isa/opcodes.js';
import { imm64 } from '../../src/isa/insn.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = ['hello.bpf.o', 'arena_list.bpf.o', 'arena_htab.bpf.o', 'maps_loop.bpf.o'] as const;

interface Expected {
  sections: { index: number; name: string; type: number; size: number; flags: number; offset: number }[];
  symbols: { name: string; value: number; size: number; type: number; bind: number; shndx: number }[];
  relocations: { section: number; offset: number; type: number; symbol: string }[];
  dwarfLines: Record<string, Record<string, number>>;
}
const expected = JSON.parse(readFileSync(`${root}test/fixtures/loader/expected.json`, 'utf8')) as Record<string, Expected>;
const bytesOf = (f: string): Uint8Array => new Uint8Array(readFileSync(`${root}examples/${f}`));
const load = (f: string): BpfObject => loadObject(bytesOf(f));

describe.each(EXAMPLES)('%s', (file) => {
  const exp = expected[file]!;
  const obj = load(file);
  const secName = (i: number): string => exp.sections[i]!.name;
  const codeSecs = exp.sections.filter((s) => s.type === 1 && s.flags & 4 && s.size > 0);

  it('reads sections and symbols as llvm-readelf does', () => {
    const elf = parseElf(bytesOf(file));
    expect(elf.sections.map((s) => ({ index: s.index, name: s.name, type: s.type, size: s.size, flags: s.flags, offset: s.offset }))).toEqual(exp.sections);
    // llvm-readelf names section symbols after their section.
    const nameOf = (s: { name: string; type: number; shndx: number }): string => (s.type === 3 && s.name === '' ? exp.sections[s.shndx]!.name : s.name);
    expect(elf.symbols.map((s) => ({ name: nameOf(s), value: s.value, size: s.size, type: s.type, bind: s.bind, shndx: s.shndx }))).toEqual(exp.symbols);
  });

  it('finds one program per global function outside .text, sized by its symbol', () => {
    const progSyms = exp.symbols.filter((s) => s.type === 2 && codeSecs.some((c) => c.index === s.shndx && c.name !== '.text'));
    expect(obj.programs.map((p) => [p.name, p.section]).sort()).toEqual(progSyms.map((s) => [s.name, secName(s.shndx)]).sort());
    for (const p of obj.programs) {
      const sym = progSyms.find((s) => s.name === p.name)!;
      expect(p.functions[0]).toMatchObject({ name: p.name, pc: 0, slots: sym.size / 8, section: p.section });
    }
  });

  it('keeps every instruction byte that no relocation touches', () => {
    const raw = bytesOf(file);
    for (const p of obj.programs) {
      const code = encodeProgram(p);
      for (const f of p.functions) {
        const sym = exp.symbols.find((s) => s.name === f.name && s.type === 2)!;
        const sec = exp.sections[sym.shndx]!;
        const relocated = new Set(exp.relocations.filter((r) => r.section === sym.shndx).map((r) => r.offset));
        for (let i = 0; i < f.slots; i++) {
          const orig = raw.subarray(sec.offset + sym.value + i * 8, sec.offset + sym.value + i * 8 + 8);
          const got = code.subarray((f.pc + i) * 8, (f.pc + i) * 8 + 8);
          const isCall = orig[0] === 0x85 && orig[1] === 0x10; // bpf-to-bpf call: imm is re-targeted
          const prevLd = i > 0 && relocated.has(sym.value + (i - 1) * 8); // second slot of a relocated ld_imm64
          if (relocated.has(sym.value + i * 8) || isCall || prevLd) expect(got[0]).toBe(orig[0]);
          else expect(Buffer.from(got).toString('hex')).toBe(Buffer.from(orig).toString('hex'));
        }
      }
    }
  });

  it('turns every relocation into a placeholder the pipeline understands', () => {
    for (const p of obj.programs) {
      for (const f of p.functions) {
        const sym = exp.symbols.find((s) => s.name === f.name && s.type === 2)!;
        for (const r of exp.relocations.filter((x) => x.section === sym.shndx && x.offset >= sym.value && x.offset < sym.value + sym.size)) {
          const pc = f.pc + (r.offset - sym.value) / 8;
          const insn = p.insns.insns.find((i) => i.pc === pc)!;
          const target = exp.symbols.find((s) => s.name === r.symbol);
          if (r.type === 10) {
            expect(insn.code).toBe(0x85);
            if (target && target.shndx === 0) {
              expect(insn.src).toBe(PseudoCall.KFUNC);
              expect(p.kfuncs[`0x${insn.imm.toString(16)}`]).toBe(r.symbol);
            } else {
              expect(insn.src).toBe(PseudoCall.CALL);
            }
          } else {
            expect(r.type).toBe(1);
            expect(insn.code).toBe(LD_IMM64);
            expect([PseudoLd.MAP_FD, PseudoLd.MAP_VALUE, PseudoLd.FUNC]).toContain(insn.src);
            if (insn.src !== PseudoLd.FUNC) expect(obj.maps[insn.imm]).toBeDefined();
            if (target && target.type === 1 && secName(target.shndx) !== '.maps') {
              // A named global: the map is its section's, the offset its symbol value.
              const map = obj.maps[insn.imm]!;
              expect(secName(target.shndx) === '.addr_space.1' ? map.kind : map.section).toBe(secName(target.shndx) === '.addr_space.1' ? 'arena' : secName(target.shndx));
              expect(insn.imm2).toBe(target.value);
            }
            if (target && secName(target.shndx) === '.maps') expect(obj.maps[insn.imm]!.name).toBe(target.name);
          }
        }
      }
    }
  });

  it('links subprograms: calls and function addresses land on function starts', () => {
    for (const p of obj.programs) {
      const starts = new Set(p.functions.map((f) => f.pc));
      for (const i of p.insns.insns) {
        if ((i.code === 0x85 && i.src === PseudoCall.CALL) || (i.code === LD_IMM64 && i.src === PseudoLd.FUNC)) {
          expect(starts.has(i.pc + i.imm + 1)).toBe(true);
        }
      }
      expect(p.insns.slots).toBe(p.functions.reduce((n, f) => n + f.slots, 0));
      for (const f of p.functions.slice(1)) {
        const sym = exp.symbols.find((s) => s.name === f.name && s.type === 2)!;
        expect(secName(sym.shndx)).toBe('.text');
        expect(f.slots).toBe(sym.size / 8);
        expect(f.global).toBe(sym.bind === 1);
      }
    }
  });

  it('kernelBtf fills DATASEC sizes and offsets from the ELF and drops extern linkage', () => {
    const btf = parseBtf(kernelBtf(bytesOf(file))!, 0);
    for (const t of btf.types) {
      if (t.kind === BtfKind.FUNC) {
        expect(t.vlen).toBeLessThan(2);
        for (const p of btf.types[t.sizeOrType]!.members) expect(p.type === 0 || p.name !== '').toBe(true);
      }
      if (t.kind !== BtfKind.DATASEC) continue;
      for (const m of t.members) expect(btf.types[m.type]!.kind).toBe(BtfKind.VAR);
      const sec = exp.sections.find((x) => x.name === t.name);
      if (!sec) continue;
      expect(t.sizeOrType).toBe(sec.size);
      for (const m of t.members) {
        const sym = exp.symbols.find((x) => x.name === btf.types[m.type]!.name && x.shndx === sec.index);
        if (sym) expect(m.offset).toBe(sym.value);
      }
    }
  });

  it('places BTF line_info on the lines DWARF gives for the same instructions', () => {
    expect(obj.btf).not.toBeNull();
    for (const p of obj.programs) {
      expect(p.lineInfo.length).toBeGreaterThan(0);
      for (const l of p.lineInfo) {
        const f = p.functions.find((fn) => l.pc >= fn.pc && l.pc < fn.pc + fn.slots)!;
        const sym = exp.symbols.find((s) => s.name === f.name && s.type === 2)!;
        const secInsn = sym.value / 8 + (l.pc - f.pc);
        if (l.col === 0 && l.pc === f.pc) {
          // LLVM's BTFDebug opens each function with a record for its declaration line (column 0).
          expect(l.text).toContain(f.name);
        } else {
          expect(exp.dwarfLines[f.section]![String(secInsn)]).toBe(l.line);
        }
        expect(l.file).toMatch(/\.bpf\.c$/);
        expect(sourceLineAt(p, l.pc)).toEqual(l);
      }
    }
  });
});

describe('example contents (from the C sources)', () => {
  it('hello: .rodata holds the format string, .bss the counter; returns through bpf_printk', () => {
    const obj = load('hello.bpf.o');
    expect(obj.license).toBe('GPL');
    const ro = obj.maps.find((m) => m.name === '.rodata')!;
    expect(Buffer.from(ro.initialValue!).toString()).toBe('hello, world %d\0');
    // Only a function-local static lives in this .rodata: read-only for the program, not mmapable (libbpf's rule).
    expect(ro).toMatchObject({ kind: 'array', keySize: 4, valueSize: 16, maxEntries: 1, flags: 1 << 7, freeze: true });
    expect(obj.maps.find((m) => m.name === '.bss')).toMatchObject({ valueSize: 4, flags: 1 << 10 });
    const p = findProgram(obj);
    expect(p).toMatchObject({ name: 'hello', section: 'syscall', progType: 'syscall', sleepable: true });
    expect(p.insns.insns.some((i) => i.code === 0x85 && i.src === 0 && i.imm === 6)).toBe(true); // bpf_trace_printk
    expect(sourceLineAt(p, p.insns.insns.find((i) => i.code === 0x85)!.pc)?.text).toContain('bpf_printk("hello, world %d", calls)');
    expect(obj.arena).toBeNull();
  });

  it('hello without -g: no BTF, so no line info, no parameter names, and no mmapable data maps (libbpf)', () => {
    const obj = loadObject(new Uint8Array(readFileSync(`${root}test/fixtures/loader/hello-nobtf.bpf.o`)));
    expect(obj.btf).toBeNull();
    expect(obj.maps.map((m) => [m.name, m.flags])).toEqual([['.bss', 0], ['.rodata', 1 << 7]]);
    const p = findProgram(obj);
    expect(p.lineInfo).toEqual([]);
    expect(p.functions).toEqual([{ name: 'hello', pc: 0, slots: 11, section: 'syscall', global: true, btfTypeId: 0, params: [], arenaArgs: [] }]);
    expect(sourceLineAt(p, 0)).toBeUndefined();
    // Same code as the -g build.
    expect(p.insns).toEqual(findProgram(load('hello.bpf.o')).insns);
  });

  it('arena_list: arena map 0, globals at the arena start, kfuncs, arg:arena', () => {
    const obj = load('arena_list.bpf.o');
    expect(obj.maps[0]).toMatchObject({ name: 'arena', kind: 'arena', type: 33, maxEntries: 16, flags: 1 << 10, mapExtra: 1n << 32n, keySize: 0, valueSize: 0 });
    const secSize = expected['arena_list.bpf.o']!.sections.find((s) => s.name === '.addr_space.1')!.size;
    expect(obj.arena).toMatchObject({ mapIndex: 0, pages: 16, globalsOffset: 0, globalsSize: secSize });
    expect(obj.maps.find((m) => m.name === '.rodata')!.initialValue).toEqual(new Uint8Array([10, 0, 0, 0])); // nr_nodes = 10
    expect(obj.kfuncs).toEqual({ '0x101': 'bpf_arena_alloc_pages', '0x102': 'bpf_arena_free_pages' });
    const build = findProgram(obj, 'build_list');
    expect(build.functions.map((f) => f.name)).toEqual(['build_list', 'arena_alloc', 'list_sum']);
    const listSum = build.functions.find((f) => f.name === 'list_sum')!;
    expect(listSum).toMatchObject({ global: true, params: ['n'], arenaArgs: [0] });
    expect(findProgram(obj, 'free_list').functions.map((f) => f.name)).toEqual(['free_list', 'list_sum']);
    expect(obj.btf!.arenaArgTags).toBe(1);
    // The arena map itself is passed to the kfunc: ld_imm64 src 1 imm 0.
    expect(build.insns.insns.some((i) => i.code === LD_IMM64 && i.src === PseudoLd.MAP_FD && i.imm === 0 && imm64(i) === 0n)).toBe(true);
  });

  it("arena_list with newer libbpf's placement puts the globals in the last page", () => {
    const obj = loadObject(bytesOf('arena_list.bpf.o'), { arenaGlobals: 'end' });
    expect(obj.arena!.globalsOffset).toBe(15 * 4096);
    const head = expected['arena_list.bpf.o']!.symbols.find((s) => s.name === 'head')!;
    const build = findProgram(obj, 'build_list');
    expect(build.insns.insns.some((i) => i.code === LD_IMM64 && i.src === PseudoLd.MAP_VALUE && i.imm === 0 && i.imm2 === 15 * 4096 + head.value)).toBe(true);
    expect(Object.keys(programEnv(obj, build).env.prefault)).toEqual(['15']);
  });

  it('arena_htab: globals (buckets, counters) fill .addr_space.1; static subprograms in first-call order', () => {
    const obj = load('arena_htab.bpf.o');
    expect(obj.arena).toMatchObject({ pages: 64, mapExtra: 0n, globalsSize: 32 * 8 + 8 });
    const p = findProgram(obj, 'htab_test');
    expect(p.functions.map((f) => [f.name, f.global])).toEqual([['htab_test', true], ['htab_update', false], ['new_entry', false], ['htab_lookup', false]]);
    const run = programEnv(obj, p, { ctx: '00'.repeat(16) });
    expect(run.env).toMatchObject({ arena: { pages: 64, flags: 1 << 10, map_extra: 0n }, kfuncs: { '0x101': 'bpf_arena_alloc_pages' }, ctx: '00'.repeat(16) });
    expect(run.env.prefault['0']).toBe('00'.repeat(4096)); // zero-initialised globals still occupy (and allocate) page 0
    expect(run.maps).toBe(obj.maps);
  });

  it('maps_loop: array and hash maps, .rodata/.data/.bss, bpf_loop callback address', () => {
    const obj = load('maps_loop.bpf.o');
    expect(obj.license).toBe('Dual BSD/GPL');
    expect(obj.maps.map((m) => [m.name, m.kind, m.keySize, m.valueSize, m.maxEntries, m.flags])).toEqual([
      ['counters', 'array', 4, 8, 8, 0],
      ['squares', 'hash', 4, 8, 128, 1],
      ['.rodata', 'array', 4, 4, 1, 0x480],
      ['.data', 'array', 4, 8, 1, 0x400],
      ['.bss', 'array', 4, 4, 1, 0x400],
    ]);
    expect(obj.maps.find((m) => m.name === '.data')!.initialValue).toEqual(new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0]));
    expect(obj.maps.find((m) => m.name === '.rodata')!.initialValue).toEqual(new Uint8Array([16, 0, 0, 0]));
    const sum = findProgram(obj, 'sum_squares');
    expect(sum.functions.map((f) => f.name)).toEqual(['sum_squares', 'square_cb']);
    const cb = sum.insns.insns.find((i) => i.code === LD_IMM64 && i.src === PseudoLd.FUNC)!;
    expect(cb.pc + cb.imm + 1).toBe(sum.functions[1]!.pc);
    expect(sum.insns.insns.some((i) => i.code === 0x85 && i.src === 0 && i.imm === 181)).toBe(true); // bpf_loop
    expect(findProgram(obj, 'xdp_count')).toMatchObject({ progType: 'xdp', sleepable: false, mapsUsed: [0] });
    expect(findProgram(obj, 'tracepoint/syscalls/sys_enter_write')).toMatchObject({ name: 'tp_write', progType: 'tracepoint', mapsUsed: [1] });
    expect(() => findProgram(obj)).toThrow(/3 programs; choose one with --prog NAME: sum_squares/);
    expect(() => findProgram(obj, 'nope')).toThrow(/no program named 'nope'/);
    expect(programEnv(obj, sum).env.arena).toBeNull();
  });
});

function encodeProgram(p: BpfProgram): Uint8Array {
  const out = new Uint8Array(p.insns.slots * 8);
  const v = new DataView(out.buffer);
  for (const i of p.insns.insns) {
    v.setUint8(i.pc * 8, i.code);
    v.setUint8(i.pc * 8 + 1, (i.src << 4) | i.dst);
    v.setInt16(i.pc * 8 + 2, i.off, true);
    v.setInt32(i.pc * 8 + 4, i.imm, true);
    if (i.code === LD_IMM64) v.setInt32(i.pc * 8 + 12, i.imm2 ?? 0, true);
  }
  return out;
}

// Program types and sleepability per SEC() name, from libbpf's section_defs table.
describe('section names', () => {
  it.each([
    ['syscall', 'syscall', true], ['xdp', 'xdp', false], ['xdp.frags', 'xdp', false], ['?xdp', 'xdp', false],
    ['tc', 'sched_cls', false], ['tcx/ingress', 'sched_cls', false], ['classifier', 'sched_cls', false],
    ['socket', 'socket_filter', false], ['tracepoint/syscalls/sys_enter_write', 'tracepoint', false],
    ['tp/sched/sched_switch', 'tracepoint', false], ['raw_tp/sys_enter', 'raw_tracepoint', false],
    ['fentry/do_unlinkat', 'tracing', false], ['fentry.s/do_unlinkat', 'tracing', true], ['lsm.s/file_open', 'lsm', true],
    ['kprobe/do_sys_open', 'kprobe', false], ['kprobe.multi/do_*', 'kprobe', false], ['uprobe.s/bin:func', 'kprobe', true],
    ['struct_ops/init', 'struct_ops', false], ['my_section', 'unknown', false],
  ] as const)('%s → %s', (sec, progType, sleepable) => {
    expect(sectionProgType(sec)).toEqual({ progType, sleepable });
  });
});
