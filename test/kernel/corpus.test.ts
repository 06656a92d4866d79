// `corpus build` (random verifier-accepted programs, deterministic in the seed) and `corpus check`.
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { corpusCmd } from '../../src/cli/corpus.js';
import { decode, encode } from '../../src/isa/codec.js';
import { Class, JmpOp, LD_IMM64 } from '../../src/isa/opcodes.js';
import { bpfAvailability, generate } from '../../src/kernel/index.js';
import { FIXTURE_CORPUS_DIR } from '../helpers/corpus.js';

const avail = bpfAvailability();
if (!avail.ok) console.log(`test/kernel/corpus: corpus build cases SKIPPED, bpf() not permitted here: ${avail.reason}`);

async function capture(run: () => Promise<number> | number): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const l = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const e = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    return { code: await run(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    l.mockRestore();
    e.mockRestore();
  }
}

afterEach(() => {
  delete process.env.BPFJIT_NO_BPF;
});

describe('generator', () => {
  test('deterministic in (seed, index), different across seeds', () => {
    const a = encode(generate({ seed: 5, index: 3 }).prog);
    const b = encode(generate({ seed: 5, index: 3 }).prog);
    const c = encode(generate({ seed: 6, index: 3 }).prog);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });

  test('jumps land on instruction starts inside the program; calls reach a function', () => {
    for (let i = 0; i < 200; i++) {
      const { prog } = generate({ seed: 1, index: i });
      const starts = new Set(prog.insns.map((x) => x.pc));
      expect(decode(encode(prog)).slots).toBe(prog.slots);
      for (const x of prog.insns) {
        const cls = x.code & 7;
        if (cls !== Class.JMP && cls !== Class.JMP32) continue;
        const op = x.code & 0xf0;
        if (op === JmpOp.EXIT || (op === JmpOp.CALL && x.src !== 1)) continue;
        const target = x.pc + 1 + (op === JmpOp.CALL || (cls === Class.JMP32 && op === JmpOp.JA) ? x.imm : x.off);
        expect(starts.has(target) || target === prog.slots, `seed 1 index ${i} insn ${x.pc}`).toBe(true);
        expect(target).toBeLessThanOrEqual(prog.slots);
      }
      expect(prog.insns.some((x) => x.code === LD_IMM64)).toBe(true);
    }
  });
});

describe('corpus check (no bpf() needed)', () => {
  test('the fixture corpus: every image byte-identical, every deterministic result equal', async () => {
    const dir = join(FIXTURE_CORPUS_DIR, 'kernel-corpus');
    const n = readdirSync(dir).filter((f) => f.endsWith('.kernel.json')).length;
    const r = await capture(() => corpusCmd.run(['check', dir]));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`JIT byte parity: ${n}/${n} identical, 0 differ`);
    expect(r.out).toContain(`${n}/${n} equal, 0 differ`);
  });

  test('a changed image byte and a changed result are reported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfjit-check-'));
    cpSync(join(FIXTURE_CORPUS_DIR, 'kernel-corpus'), dir, { recursive: true });
    const kj = join(dir, 'p00000_s11.kernel.json');
    const rec = JSON.parse(readFileSync(kj, 'utf8')) as { jited: string; retval: number };
    rec.jited = `${rec.jited.slice(0, 22)}${rec.jited[22] === '0' ? '1' : '0'}${rec.jited.slice(23)}`;
    rec.retval = (rec.retval + 1) >>> 0;
    writeFileSync(kj, JSON.stringify(rec));
    const r = await capture(() => corpusCmd.run(['check', dir]));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/1 differ\n\s+p00000_s11: first difference at image byte 11/);
    expect(r.out).toMatch(/p00000_s11: retval/);
  });
});

describe('corpus build', () => {
  test('BPFJIT_NO_BPF=1: one line, exit 3', async () => {
    process.env.BPFJIT_NO_BPF = '1';
    const r = await capture(() => corpusCmd.run(['build', mkdtempSync(join(tmpdir(), 'bpfjit-b-')), '--seed', '1', '--count', '1']));
    expect(r.code).toBe(3);
    expect(r.err).toBe('bpfjit corpus build: bpf() not permitted: disabled by BPFJIT_NO_BPF');
  });

  test.skipIf(!avail.ok)('writes four files per program, same seed → same programs, and bpfjit matches them', async () => {
    const a = mkdtempSync(join(tmpdir(), 'bpfjit-ca-'));
    const b = mkdtempSync(join(tmpdir(), 'bpfjit-cb-'));
    for (const d of [a, b]) expect((await capture(() => corpusCmd.run(['build', d, '--seed', '42', '--count', '12']))).code).toBe(0);
    const files = readdirSync(a).sort();
    expect(files).toHaveLength(48);
    expect(files.slice(0, 4)).toEqual(['p00000_s42.bin', 'p00000_s42.json', 'p00000_s42.kernel.json', 'p00000_s42.kernel.txt']);
    for (const f of files.filter((x) => x.endsWith('.bin') || (x.endsWith('.json') && !x.endsWith('kernel.json')))) {
      expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f).toBe(true);
    }
    const side = JSON.parse(readFileSync(join(a, 'p00000_s42.json'), 'utf8')) as Record<string, unknown>;
    for (const k of ['name', 'seed', 'index', 'body_size', 'insn_count', 'prog_type', 'sleepable', 'arena', 'kfuncs', 'prefault', 'ctx', 'subprog', 'gen_stats']) expect(side).toHaveProperty(k);
    const rec = JSON.parse(readFileSync(join(a, 'p00000_s42.kernel.json'), 'utf8')) as Record<string, unknown>;
    const ref = JSON.parse(readFileSync(join(FIXTURE_CORPUS_DIR, 'kernel-corpus/p00000_s11.kernel.json'), 'utf8')) as Record<string, unknown>;
    for (const k of Object.keys(ref)) expect(rec, k).toHaveProperty(k);
    const r = await capture(() => corpusCmd.run(['check', a]));
    expect(r.out).toContain('JIT byte parity: 12/12 identical, 0 differ');
    expect(r.code, r.out).toBe(0);
  }, 60_000);

  // The differential test in small: fresh random programs (BPFJIT_CORPUS_SEED picks another seed), every image
  // byte-identical to this kernel's JIT and every deterministic result equal on the emulator.
  const seed = Number(process.env.BPFJIT_CORPUS_SEED ?? 2026);
  test.skipIf(!avail.ok)(`20 programs of seed ${seed}: 100 % byte parity, 100 % result parity`, async () => {
    const d = mkdtempSync(join(tmpdir(), 'bpfjit-c20-'));
    const b = await capture(() => corpusCmd.run(['build', d, '--seed', String(seed), '--count', '20']));
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(/^wrote 20 programs/);
    const r = await capture(() => corpusCmd.run(['check', d, '--verbose']));
    expect(r.out).toContain('JIT byte parity: 20/20 identical, 0 differ');
    expect(r.out).toMatch(/result parity \(bpfjit image on the emulator vs the kernel's run\): (\d+)\/\1 equal, 0 differ, \d+ skipped/);
    expect(r.code, r.out).toBe(0);
  }, 60_000);
});
