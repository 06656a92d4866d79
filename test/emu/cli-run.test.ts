// `bpfjit run` end to end: original corpus programs → front end → JIT → engine, compared with the kernel.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/cli/run.js';
import { allPrograms, fixturePrograms, REPO_ROOT, type CorpusProgram } from '../helpers/corpus.js';

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

  /** Runs one corpus program through the whole pipeline; '' when it matches the kernel. */
  function mismatch(p: CorpusProgram, extra: readonly string[] = []): string {
    const log = join(p.dir, `${p.name}.kernel.txt`);
    const { code, out, err } = capture([join(p.dir, `${p.name}.bin`), '--json', '--verifier-log', log, ...extra]);
    if (code !== 0) return `exit ${code}: ${err.join(' ')}`;
    const k = p.kernel();
    const r = JSON.parse(out.at(-1)!) as { retval: number; ctx: string; arenaPages: Record<string, string>; arenaAllocated: number[] };
    // A kernel-chosen user address (map_extra 0) differs from ours; stored user pointers then differ too.
    const fixedAddr = !p.sidecar().arena || Number(p.sidecar().arena!.map_extra) !== 0;
    if (r.retval !== k.retval) return `retval ${r.retval} != ${k.retval}`;
    if (r.ctx !== k.ctx_out) return 'ctx';
    if (fixedAddr && JSON.stringify(r.arenaPages) !== JSON.stringify(k.arena_pages_after)) return 'arena pages';
    if (fixedAddr && JSON.stringify(r.arenaAllocated) !== JSON.stringify(k.arena_allocated_after)) return 'allocated pages';
    return '';
  }

  it('matches the kernel on the fixture programs (retval, ctx, arena pages)', () => {
    const bad = progs.map((p) => [p.id, mismatch(p)] as const).filter(([, d]) => d !== '');
    expect(bad).toEqual([]);
  });

  it('--engine interp: the reference interpreter matches the kernel on the fixture programs too', () => {
    const bad = progs.map((p) => [p.id, mismatch(p, ['--engine', 'interp'])] as const).filter(([, d]) => d !== '');
    expect(bad).toEqual([]);
  });

  it('--engine interp: global data and the arena of an ELF object; clear errors', () => {
    const elf = join(REPO_ROOT, 'examples/arena_list.bpf.o');
    const result = (engine: string) => {
      const r = capture([elf, '--prog', 'build_list', '--engine', engine, '--json']);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out.at(-1)!) as { retval: number; arenaPages: Record<string, string>; arenaAllocated: number[] };
      return [j.retval, j.arenaPages, j.arenaAllocated];
    };
    // Two independent engines (interpreter; front end + JIT + Unicorn) on the list the C source builds.
    expect(result('interp')).toEqual(result('unicorn'));
    // Usage errors (exit 2 through main.ts).
    expect(() => capture([elf, '--prog', 'build_list', '--engine', 'nope'])).toThrow(/--engine: expected unicorn or interp, got 'nope'/);
    expect(() => capture([elf, '--prog', 'build_list', '--engine', 'interp', '--repeat', '2', '--batch'])).toThrow(/--engine interp: --batch is for the emulator/);
    // bpf_trace_printk: the same lines from both engines (the format language is shared: src/isa/printk.ts).
    const hello = (engine: string) => capture([join(REPO_ROOT, 'examples/hello.bpf.o'), '--engine', engine]).out.filter((l) => !l.startsWith('BPF instructions'));
    expect(hello('interp')).toEqual(hello('unicorn'));
    expect(hello('interp')[0]).toBe('printk: hello, world 1');
    // A helper the interpreter does not implement stops the run with the instruction.
    const dir = mkdtempSync(join(tmpdir(), 'bpfjit-interp-'));
    try {
      writeFileSync(join(dir, 'stackid.s'), 'r0 = 0\ncall bpf_get_stackid#27\nexit\n');
      const r = capture([join(dir, 'stackid.s'), '--engine', 'interp']);
      expect(r.code).toBe(1);
      expect(r.err.join('\n')).toMatch(/fault: insn 1: call to unknown helper function 27/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('matches the kernel on a sample of the whole corpora (../shared)', () => {
    const { source, programs } = allPrograms();
    if (source !== 'shared') {
      console.log('cli-run: ../shared not present, corpus sample skipped (fixtures covered above)');
      return;
    }
    // Every 4th program keeps this test short (all 530 match when run; 529 without the verifier logs).
    const sample = programs.filter((p, i) => i % 4 === 0 && p.kernel().ok && p.sidecar().deterministic !== false);
    const bad = sample.map((p) => [p.id, mismatch(p)] as const).filter(([, d]) => d !== '');
    expect(bad).toEqual([]);
    console.log(`cli-run: ${sample.length} corpus programs through front end, JIT and engine match the kernel`);
  });

  it('runs the kernel\'s xlated program (--dialect kernel-xlated) with the kernel\'s arena addresses', () => {
    const p = progs.find((x) => x.sidecar().arena && x.kernel().kern_vm_start)!;
    const k = p.kernel();
    const dir = mkdtempSync(join(tmpdir(), 'bpfjit-run-'));
    const bin = join(dir, 'x.bin');
    writeFileSync(bin, Buffer.from(k.xlated_resolved, 'hex'));
    const args = [bin, '--dialect', 'kernel-xlated', '--env', join(p.dir, `${p.name}.json`), '--json'];
    const { code, out } = capture([...args, '--kern-vm-start', k.kern_vm_start!, '--user-vm-start', k.user_vm_start!]);
    rmSync(dir, { recursive: true });
    expect(code).toBe(0);
    const r = JSON.parse(out.at(-1)!) as { retval: number; ctx: string; arenaPages: Record<string, string> };
    expect([r.retval, r.ctx]).toEqual([k.retval, k.ctx_out]);
    expect(r.arenaPages).toEqual(k.arena_pages_after);
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
    // Helper/kfunc calls and exception-table fixups appear in the trace.
    const a = progs.find((x) => x.sidecar().arena && Object.keys(x.sidecar().kfuncs).length > 0)!;
    const t = capture([join(a.dir, `${a.name}.bin`), '--trace']);
    expect(t.out.some((l) => /^ {2}call bpf_arena_(alloc|free)_pages\(0x[0-9a-f]+(, 0x[0-9a-f]+){4}\) = 0x[0-9a-f]+$/.test(l))).toBe(true);
  });

  it('--repeat N --batch: N runs on one context (BPF_PROG_TEST_RUN repeat); without --batch each run starts afresh', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfjit-batch-'));
    try {
      const prog = join(dir, 'inc.s');
      writeFileSync(prog, 'r0 = *(u32 *)(r1 + 0)\nr0 += 1\n*(u32 *)(r1 + 0) = r0\nexit\n');
      const b = capture([prog, '--ctx', '05000000', '--repeat', '1000', '--batch', '--json']);
      expect(b.code).toBe(0);
      const j = JSON.parse(b.out[0]!) as { retval: number; ctx: string; runs: number; batchedNsPerRun: number; bpfInsnsPerSec: number };
      expect([j.retval, j.ctx, j.runs]).toEqual([1005, 'ed030000', 1000]);
      expect(j.batchedNsPerRun).toBeGreaterThan(0);
      expect(j.bpfInsnsPerSec).toBeGreaterThan(0);
      const text = capture([prog, '--ctx', '05000000', '--repeat', '1000', '--batch']);
      expect(text.out).toContain('retval 1005 (r0 0x3ed)');
      expect(text.out.some((l) => /^time per run: [\d.]+ us \(1000 runs in one emulator entry\)$/.test(l))).toBe(true);
      const single = capture([prog, '--ctx', '05000000', '--repeat', '3']);
      expect(single.out).toContain('retval 6 (r0 0x6)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
