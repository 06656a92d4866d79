// `bpfjit info` and the ELF branch of readProgram (src/cli/input.ts).
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BpfError, UsageError } from '../../src/errors.js';
import { info } from '../../src/cli/info.js';
import { readProgram } from '../../src/cli/input.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ex = (f: string): string => `${root}examples/${f}`;

function runInfo(args: string[]): string {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  try {
    expect(info.run(args)).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return lines.join('\n');
}

afterEach(() => vi.restoreAllMocks());

describe('bpfjit info', () => {
  it('lists programs, subprograms, kfuncs, maps, arena and BTF', () => {
    const out = runInfo([ex('arena_list.bpf.o')]);
    expect(out).toContain('license: GPL');
    expect(out).toMatch(/^ {2}build_list {2}SEC\("syscall"\) {2}type syscall \(sleepable\) {2}\d+ insns$/m);
    expect(out).toMatch(/^ {4}\+ global list_sum at insn \d+ \(13 insns\) {2}arena args: n$/m);
    expect(out).toContain('kfuncs: bpf_arena_free_pages (0x102)');
    expect(out).toContain('  0: arena  arena  key 0 value 0 max_entries 16 flags 0x400 map_extra 0x100000000');
    expect(out).toMatch(/^arena: map 0, 16 pages, flags 0x400, user_vm_start 0x100000000, __arena globals \d+ bytes at offset 0x0$/m);
    expect(out).toMatch(/^BTF: \d+ types, \d+ functions, 4 func_info, \d+ line_info, 1 arg:arena tags$/m);
  });

  it('shows maps of every kind in maps_loop', () => {
    const out = runInfo([ex('maps_loop.bpf.o')]);
    expect(out).toContain('  1: squares  hash  key 4 value 8 max_entries 128 flags 0x1');
    expect(out).toContain('  tp_write  SEC("tracepoint/syscalls/sys_enter_write")  type tracepoint  11 insns');
    expect(out).toContain('arena: none');
  });

  it('--json carries the same facts', () => {
    const j = JSON.parse(runInfo([ex('arena_list.bpf.o'), '--json'])) as {
      programs: { name: string; insns: number; functions: { name: string; arenaArgs: number[] }[] }[];
      maps: { index: number; kind: string; mapExtra: string }[];
      arena: { pages: number; globalsSize: number; globals: string };
    };
    expect(j.programs.map((p) => p.name)).toEqual(['build_list', 'free_list']);
    expect(j.programs[1]!.functions[1]).toMatchObject({ name: 'list_sum', arenaArgs: [0] });
    expect(j.maps[0]).toMatchObject({ index: 0, kind: 'arena', mapExtra: '0x100000000' });
    expect(j.arena.globals.length).toBe(j.arena.globalsSize * 2);
  });

  it('usage and input errors', () => {
    expect(() => info.run([])).toThrow(UsageError);
    const dir = mkdtempSync(join(tmpdir(), 'bpfjit-loader-'));
    writeFileSync(join(dir, 'x.o'), new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2]));
    expect(() => info.run([join(dir, 'x.o')])).toThrow(/^byte offset 5: truncated ELF header: expected 64 bytes, file has 5$/);
    expect(() => info.run([join(dir, 'missing.o')])).toThrow(BpfError);
  });
});

describe('readProgram on ELF objects', () => {
  it('takes the only program and carries its environment', () => {
    const input = readProgram(ex('hello.bpf.o'));
    expect(input.source).toBe('elf');
    expect(input.object!.program.name).toBe('hello');
    expect(input.prog).toBe(input.object!.program.insns);
    expect(input.object!.run.env.arena).toBeNull();
  });

  it('chooses with prog, and lists the programs when there are several', () => {
    expect(() => readProgram(ex('arena_list.bpf.o'))).toThrow(/2 programs; choose one with --prog NAME: build_list .*free_list/);
    const input = readProgram(ex('arena_list.bpf.o'), { prog: 'free_list' });
    expect(input.object!.run.env.kfuncs).toEqual({ '0x102': 'bpf_arena_free_pages' });
    expect(input.object!.run.env.arena).toEqual({ pages: 16, flags: 1024, map_extra: 1n << 32n });
  });
});
