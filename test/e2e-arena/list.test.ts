// Acceptance 6: examples/arena_list.bpf.o — build_list (BPF, through the JIT and the emulator) links nodes it
// allocates in the arena; TypeScript walks the list through the user pointers stored in them (the arena model's
// user view, as user space reads its mmap); then free_list runs on the same arena.
// Expected values from examples/arena_list.bpf.c: nr_nodes = 10 nodes with values i + 1 pushed at the head, so
// the walk sees 10, 9, …, 1 and the program's arena_sum is 1 + … + 10 = 55. (The same object in the running
// kernel: test/loader/kernel.test.ts.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { allocatedPages, applyPrefault, arenaFromSpec, type Arena } from '../../src/arena/index.js';
import { findProgram, loadObject, programEnv } from '../../src/loader/index.js';
import { parseElf } from '../../src/loader/elf.js';
import { REPO_ROOT } from '../helpers/corpus.js';
import { load, type Loaded } from './pipeline.js';

const bytes = new Uint8Array(readFileSync(join(REPO_ROOT, 'examples/arena_list.bpf.o')));
const obj = loadObject(bytes);
const elf = parseElf(bytes);
/** Arena address (user view) of an `__arena` global: globals start at arena offset globalsOffset. */
function globalAt(arena: Arena, name: string): bigint {
  const sym = elf.symbols.find((s) => s.name === name);
  if (!sym) throw new Error(`no symbol ${name}`);
  return arena.userVmStart + BigInt(obj.arena!.globalsOffset + sym.value);
}

const opened: Loaded[] = [];
let arena: Arena | null = null;
afterEach(() => {
  opened.splice(0).forEach((l) => l.close());
  arena?.dispose();
  arena = null;
});

describe('arena_list: built by BPF, walked from TypeScript, freed by BPF', () => {
  test('build_list → walk the user pointers → free_list', () => {
    const build = programEnv(obj, findProgram(obj, 'build_list'));
    arena = arenaFromSpec(build.env.arena!);
    applyPrefault(arena, build.env.prefault);
    expect(arena.userVmStart).toBe(1n << 32n); // map_extra

    const b = load(build.program, build.env, arena, build.maps);
    opened.push(b);
    const r = b.run();
    expect(r.fault).toBeNull();
    expect(r.retval).toBe(0);

    // Walk through the user view: every pointer is a user address (upper half of user_vm_start).
    const values: bigint[] = [];
    for (let n = arena.readU64(globalAt(arena, 'head')); n !== 0n && values.length < 20; n = arena.readU64(n)) {
      expect(n >> 32n).toBe(1n);
      values.push(arena.readU64(n + 8n));
    }
    expect(values).toEqual([10n, 9n, 8n, 7n, 6n, 5n, 4n, 3n, 2n, 1n]);
    const sum = values.reduce((a, v) => a + v, 0n);
    expect(arena.readU64(globalAt(arena, 'arena_sum'))).toBe(sum); // what the program computed
    expect(sum).toBe(55n);
    // Page 0 holds the globals (prefaulted), page 1 the nodes (the first bpf_arena_alloc_pages).
    expect(allocatedPages(arena)).toEqual([0, 1]);
    const curPage = arena.readU64(globalAt(arena, 'cur_page'));
    expect(curPage).toBe((1n << 32n) + 0x1000n);

    // free_list on the same arena (a new engine: a separate program load, like a second BPF_PROG_LOAD).
    b.close();
    opened.pop();
    const free = programEnv(obj, findProgram(obj, 'free_list'));
    const fl = load(free.program, free.env, arena, free.maps);
    opened.push(fl);
    const r2 = fl.run();
    expect(r2.fault).toBeNull();
    expect(r2.retval).toBe(55); // it returns list_sum(head) before freeing
    expect(arena.readU64(globalAt(arena, 'head'))).toBe(0n);
    expect(arena.readU64(globalAt(arena, 'cur_page'))).toBe(0n);
    expect(allocatedPages(arena)).toEqual([0]); // the node page is gone from both views
    expect(arena.pages().map((p) => p.pgoff)).toEqual([0]);
    expect(fl.engine.space.find(curPage)).toBeUndefined(); // unmapped from the emulator: user view
    expect(fl.engine.space.find(arena.kernVmStart + 0x1000n)).toBeUndefined(); // and kernel view
    expect(fl.engine.space.find(arena.userVmStart)).toBeDefined(); // the globals page stays
  });
});
