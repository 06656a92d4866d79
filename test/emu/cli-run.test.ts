// `bpfjit run` end to end: original corpus programs → front end → JIT → engine, compared with the kernel.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { run } from '../../src/cli/run.js';
import { fixturePrograms } from '../helpers/corpus.js';

function capture(argv: string[]): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)));
  const error = vi.spyOn(console, 'error').mockImplementation((s: unknown) => void err.push(String(s)));
  try {
    return { code: run.run(argv) as number, out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}
afterEach(() => vi.restoreAllMocks());

describe('bpfjit run', () => {
  const progs = fixturePrograms().filter((p) => p.kernel().ok && p.sidecar().deterministic !== false);

  it('matches the kernel on the fixture programs (retval, ctx, arena pages)', () => {
    const bad: string[] = [];
    for (const p of progs) {
      const { code, out } = capture([join(p.dir, `${p.name}.bin`), '--json']);
      const k = p.kernel();
      const r = JSON.parse(out.at(-1)!) as { retval: number; ctx: string; arenaPages: Record<string, string>; arenaAllocated: number[] };
      // A kernel-chosen user address (map_extra 0) differs from ours; stored user pointers then differ too.
      const fixedAddr = !p.sidecar().arena || Number(p.sidecar().arena!.map_extra) !== 0;
      const same = code === 0 && r.retval === k.retval && r.ctx === k.ctx_out && (!fixedAddr ||
        JSON.stringify(r.arenaPages) === JSON.stringify(k.arena_pages_after) &&
        JSON.stringify(r.arenaAllocated) === JSON.stringify(k.arena_allocated_after));
      if (!same) bad.push(p.id);
    }
    expect(bad).toEqual([]);
  });

  it('runs ELF objects: maps and globals in guest memory, printk output, the arena', () => {
    const ex = (name: string): string => join(__dirname, '../../examples', name);
    const hello = capture([ex('hello.bpf.o')]);
    expect(hello.code).toBe(0);
    expect(hello.out).toContain('printk: hello, world 1');
    expect(hello.out).toContain('retval 42 (r0 0x2a)');
    const htab = capture([ex('arena_htab.bpf.o'), '--json']);
    expect(htab.code).toBe(0);
    expect(JSON.parse(htab.out.at(-1)!).retval).toBe(2470);
  });

  it('reports faults with the BPF instruction and exits 1', () => {
    const { code, err } = capture([join(__dirname, 'fixtures/wild.s')]);
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/fault: read from unmapped address 0x1234 at insn 2 /);
  });

  it('--trace prints executed instructions with changed registers; --repeat reports time per run', () => {
    const p = progs.find((x) => !x.sidecar().arena)!;
    const { code, out } = capture([join(p.dir, `${p.name}.bin`), '--trace', '--repeat', '3']);
    expect(code).toBe(0);
    expect(out[0]).toMatch(/^insn 0: /);
    expect(out.some((l) => /^insn \d+: .*r\d+=0x/.test(l))).toBe(true);
    expect(out.some((l) => /time per run: [\d.]+ us \(3 runs\)/.test(l))).toBe(true);
  });
});
