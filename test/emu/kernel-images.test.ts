// The kernel's own JIT images (corpus kernel.json, at the kernel's image base, calling helpers at the kernel's
// addresses) run on the engine: retval, ctx and arena pages must equal what BPF_PROG_TEST_RUN reported.
import { afterAll, describe, expect, it } from 'vitest';
import { Engine, kernelImageFunctions } from '../../src/emu/index.js';
import { allocatedPages, applyPrefault, arenaFromSpec, dumpPages, type Arena } from '../../src/arena/index.js';
import { allPrograms, fixturePrograms, type CorpusProgram } from '../helpers/corpus.js';


const engine = new Engine();
afterAll(() => engine.close());

/** Runs one program's kernel image; returns what differs from the kernel ('' when nothing). */
function compare(p: CorpusProgram): string {
  const s = p.sidecar();
  const k = p.kernel();
  engine.load(kernelImageFunctions(k));
  let arena: Arena | null = null;
  if (s.arena) {
    arena = arenaFromSpec(s.arena, {
      kernVmStart: k.kern_vm_start ? BigInt(k.kern_vm_start) : undefined,
      userVmStart: k.user_vm_start ? BigInt(k.user_vm_start) : undefined,
    });
    applyPrefault(arena, s.prefault);
  }
  engine.setArena(arena);
  try {
    const r = engine.run({ ctx: Buffer.from(s.ctx, 'hex') });
    const diffs: string[] = [];
    if (r.fault) diffs.push(`fault: ${r.fault.message}`);
    if (r.retval !== k.retval) diffs.push(`retval ${r.retval} != ${k.retval}`);
    if (Buffer.from(r.ctx).toString('hex') !== k.ctx_out) diffs.push('ctx');
    if (arena && JSON.stringify(dumpPages(arena)) !== JSON.stringify(k.arena_pages_after)) diffs.push('arena pages');
    if (arena && JSON.stringify(allocatedPages(arena)) !== JSON.stringify(k.arena_allocated_after)) diffs.push('allocated pages');
    return diffs.join(', ');
  } finally {
    engine.setArena(null);
    arena?.dispose();
  }
}

const runnable = (p: CorpusProgram): boolean => p.kernel().ok && p.sidecar().deterministic !== false;

describe('kernel images on the engine', () => {
  it('fixture programs match the kernel exactly', () => {
    const progs = fixturePrograms().filter(runnable);
    expect(progs.length).toBeGreaterThan(20);
    const bad = progs.map((p) => [p.id, compare(p)] as const).filter(([, d]) => d !== '');
    expect(bad).toEqual([]);
  });

  it('whole corpora (../shared): every deterministic program matches; the others run without a fault', () => {
    const { source, programs } = allPrograms();
    if (source !== 'shared') {
      console.log('kernel-images: ../shared not present, whole-corpus run skipped (fixtures covered above)');
      return;
    }
    const progs = programs.filter(runnable);
    const bad = progs.map((p) => [p.id, compare(p)] as const).filter(([, d]) => d !== '');
    expect(bad).toEqual([]);
    // Time, randomness or a kernel-chosen address reach these results: only require a clean run.
    const others = programs.filter((p) => p.kernel().ok && !runnable(p));
    const faults = others.map((p) => [p.id, compare(p)] as const).filter(([, d]) => d.includes('fault'));
    expect(faults).toEqual([]);
    console.log(`kernel-images: ${progs.length} deterministic programs match, ${others.length} others run cleanly`);
  });
});
