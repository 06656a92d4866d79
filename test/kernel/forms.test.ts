// The instruction-form fixtures (test/fixtures/forms/*.s + NAME.json): together they use every instruction
// form the verifier accepts in a syscall program (checked here against a list written from the ISA, RFC 9669
// and the kernel's uapi, not from src/isa), and `bpfjit diff --run` must report each one byte-identical to
// the running kernel's JIT with equal results. The ELF examples go through the same command.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { diffCmd } from '../../src/cli/diff.js';
import { kernelCmd } from '../../src/cli/kernel.js';
import { parse } from '../../src/isa/parse.js';
import { decode, encode } from '../../src/isa/codec.js';
import { parseEnv } from '../../src/env.js';
import { bpfAvailability, resolveXlated, runInKernel, type KernelRecord } from '../../src/kernel/index.js';
import { jitOptionsFor } from '../../src/cli/kernel.js';
import { jit } from '../../src/jit/index.js';
import { REPO_ROOT } from '../helpers/corpus.js';

const DIR = join(REPO_ROOT, 'test/fixtures/forms');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.s')).sort();
const avail = bpfAvailability();
if (!avail.ok) console.log(`test/kernel/forms: bpfjit diff cases SKIPPED, bpf() not permitted here: ${avail.reason}`);

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

/** A form: opcode byte, plus what else tells forms of one opcode apart. */
function formKey(code: number, src: number, off: number, imm: number): string {
  const cls = code & 7;
  const op = code & 0xf0;
  if (code === 0x18) return `ld_imm64 src ${src}`;
  if (cls === 0x04 || cls === 0x07) {
    if (op === 0xd0) return `0x${code.toString(16)} imm ${imm}`; // END / BSWAP width
    if (op === 0x30 || op === 0x90 || op === 0xb0) return `0x${code.toString(16)} off ${off}`; // sdiv/smod, movsx, cast
    return `0x${code.toString(16)}`;
  }
  if ((code & 0xe0) === 0xe0 && cls === 0x03) return `0x${code.toString(16)}`; // PROBE_ATOMIC: any operation
  if (code === 0xdb || code === 0xc3 || code === 0xd3 || code === 0xcb) return `0x${code.toString(16)} imm 0x${imm.toString(16)}`; // atomics
  if (code === 0x85) return `call src ${src}`;
  return `0x${code.toString(16)}`;
}

/** Every form the 6.18 verifier accepts in a sleepable syscall program on x86-64 (ISA numbers). */
function requiredForms(): string[] {
  const out: string[] = [];
  const ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0]; // add..xor, mov, arsh (not neg/end)
  for (const cls of [0x04, 0x07]) {
    for (const op of ALU_OPS) {
      for (const x of [0, 8]) {
        const code = cls | op | x;
        if (op === 0x30 || op === 0x90) out.push(`0x${code.toString(16)} off 0`, `0x${code.toString(16)} off 1`); // div/sdiv, mod/smod
        else if (op === 0xb0 && x === 8) {
          for (const o of cls === 0x07 ? [0, 8, 16, 32] : [0, 8, 16]) out.push(`0x${code.toString(16)} off ${o}`); // mov, movsx
        } else if (op === 0xb0) out.push(`0x${code.toString(16)} off 0`);
        else out.push(`0x${code.toString(16)}`);
      }
    }
    out.push(`0x${(cls | 0x80).toString(16)}`); // neg
  }
  out.push('0xbf off 1'); // addr_space_cast
  for (const w of [16, 32, 64]) out.push(`0xd4 imm ${w}`, `0xdc imm ${w}`, `0xd7 imm ${w}`); // le, be, bswap
  const CONDS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
  for (const cls of [0x05, 0x06]) for (const c of CONDS) for (const x of [0, 8]) out.push(`0x${(cls | c | x).toString(16)}`);
  out.push('0x5', '0x6', '0xe5', '0x95', 'call src 0', 'call src 1', 'call src 2'); // ja, gotol, may_goto, exit, calls
  for (const sz of [0x00, 0x08, 0x10, 0x18]) out.push(`0x${(0x61 + sz).toString(16)}`, `0x${(0x62 + sz).toString(16)}`, `0x${(0x63 + sz).toString(16)}`); // ldx, st, stx
  for (const sz of [0x00, 0x08, 0x10]) out.push(`0x${(0x81 + sz).toString(16)}`); // ldx memsx
  for (const code of [0xc3, 0xdb]) {
    for (const imm of [0x00, 0x50, 0x40, 0xa0, 0x01, 0x51, 0x41, 0xa1, 0xe1, 0xf1]) out.push(`0x${code.toString(16)} imm 0x${imm.toString(16)}`);
  }
  for (const code of [0xd3, 0xcb, 0xc3, 0xdb]) out.push(`0x${code.toString(16)} imm 0x100`, `0x${code.toString(16)} imm 0x110`); // load_acquire, store_release
  for (const src of [0, 1, 2, 4]) out.push(`ld_imm64 src ${src}`);
  return out;
}

describe('instruction-form fixtures', () => {
  test('together they use every form the verifier accepts for a syscall program', () => {
    const seen = new Set<string>();
    for (const f of FILES) {
      for (const i of parse(readFileSync(join(DIR, f), 'utf8')).insns) seen.add(formKey(i.code, i.src, i.off, i.imm));
    }
    const missing = requiredForms().filter((k) => !seen.has(k));
    expect(missing).toEqual([]);
    expect(FILES.length).toBeGreaterThanOrEqual(10);
  });

  test.skipIf(!avail.ok)("the kernel keeps them: the verified programs (what the JIT consumed) use every form, arena ones as PROBE_*", () => {
    const seen = new Set<string>();
    for (const f of FILES) {
      const env = parseEnv(JSON.parse(readFileSync(join(DIR, f.replace(/\.s$/, '.json')), 'utf8')));
      const { record } = runInKernel(encode(parse(readFileSync(join(DIR, f), 'utf8'))), env, { run: false });
      expect(record.resolve_notes, f).toEqual([]);
      for (const i of decode(Buffer.from(record.xlated_resolved, 'hex')).insns) seen.add(formKey(i.code, i.src, i.off, i.imm));
    }
    // may_goto becomes a stack counter; map, arena-address and callback ld_imm64 become plain 64-bit values.
    const rewritten = new Set(['0xe5', 'ld_imm64 src 1', 'ld_imm64 src 2', 'ld_imm64 src 4']);
    const probe: string[] = [];
    for (const sz of [0x00, 0x08, 0x10, 0x18]) probe.push(`0x${(0xa1 + sz).toString(16)}`, `0x${(0xa2 + sz).toString(16)}`, `0x${(0xa3 + sz).toString(16)}`); // PROBE_MEM32
    for (const sz of [0x00, 0x08, 0x10]) probe.push(`0x${(0xc1 + sz).toString(16)}`); // PROBE_MEM32SX
    for (const sz of [0x00, 0x08, 0x10, 0x18]) probe.push(`0x${(0xe3 + sz).toString(16)}`); // PROBE_ATOMIC (incl. acquire/release)
    const missing = [...requiredForms().filter((k) => !rewritten.has(k)), ...probe].filter((k) => !seen.has(k));
    expect(missing).toEqual([]);
  }, 60_000);

  test('every fixture has its environment beside it', () => {
    for (const f of FILES) expect(() => JSON.parse(readFileSync(join(DIR, f.replace(/\.s$/, '.json')), 'utf8')), f).not.toThrow();
  });

  test.skipIf(!avail.ok).each(FILES)('bpfjit diff --run %s: identical image, equal results', async (f) => {
    const r = await capture(() => diffCmd.run([join(DIR, f), '--run']));
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^results equal \(retval \d+, ctx, arena pages\)\nidentical \(\d+ bytes\)$/);
    expect(r.code).toBe(0);
  }, 30_000);

  // Results are compared where the arena is the only map (the emulator does not get the kernel's other maps).
  test.skipIf(!avail.ok).each([
    ['maps_loop.bpf.o', 'sum_squares', 'results not compared: the program uses maps besides the arena (counters, squares, .rodata, .data, .bss), which the emulator does not get from the kernel'],
    ['arena_list.bpf.o', 'build_list', 'results not compared: the program uses maps besides the arena (.rodata, .bss), which the emulator does not get from the kernel'],
    ['arena_list.bpf.o', 'free_list', 'results equal (retval 0, ctx, arena pages)'],
    ['arena_htab.bpf.o', undefined, 'results not compared: the program uses maps besides the arena (.bss), which the emulator does not get from the kernel'],
    ['hello.bpf.o', undefined, 'results not compared: the program uses maps besides the arena (.bss, .rodata), which the emulator does not get from the kernel'],
  ])('bpfjit diff examples/%s --prog %s --run: identical', async (obj, prog, results) => {
    const r = await capture(() => diffCmd.run([join(REPO_ROOT, 'examples', obj), ...(prog ? ['--prog', prog] : []), '--run']));
    expect(r.err).toBe('');
    expect(r.out).toMatch(/\nidentical \(\d+ bytes\)$/);
    expect(r.out.split('\n')[0]).toBe(results);
    expect(r.code).toBe(0);
  }, 30_000);

  // Offsets at their limits need big programs, so this one is written out here instead of as a fixture:
  // JMP off +32767, JMP32 off -32768 (back to an exit, so no loop), gotol over 40000 slots.
  test.skipIf(!avail.ok)('jump offsets at the s16 limits and a gotol beyond them: identical, equal results', async () => {
    const fill = (n: number, line: string) => Array<string>(n).fill(line).join('\n');
    const text = [
      'r6 = *(u64 *)(r1 +0)', 'r0 = 0', 'goto pc+1', 'exit',
      'if r6 == 0x0 goto pc+32767', // → 32772
      fill(32765, 'r0 += 1'),
      'if w6 == 0x7 goto pc-32768', // insn 32770 → 3 (exit)
      'r0 += 3',
      'if r6 s> 0x3 goto pc+1', // insn 32772
      'gotol pc+40000',
      fill(40000, 'r0 += 2'),
      'exit',
    ].join('\n');
    const d = mkdtempSync(join(tmpdir(), 'bpfjit-far-'));
    writeFileSync(join(d, 'far.s'), `${text}\n`);
    // r6 = 5: 32765 × 1, + 3, then the 40000 × 2 the gotol would skip = 112768
    writeFileSync(join(d, 'far.json'), JSON.stringify({ ctx: '0500000000000000' }));
    const r = await capture(() => diffCmd.run([join(d, 'far.s'), '--run']));
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^results equal \(retval 112768, ctx, arena pages\)\nidentical \(\d+ bytes\)$/);
    expect(r.code).toBe(0);
  }, 60_000);

  test.skipIf(!avail.ok)("kernel run/jit --prog: the object's maps are set up as libbpf does (.rodata loops = 16 → sum of squares 0..15)", async () => {
    const obj = join(REPO_ROOT, 'examples/maps_loop.bpf.o');
    const r = await capture(() => kernelCmd.run(['run', obj, '--prog', 'sum_squares', '--json']));
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ retval: 1240, fault: null });
    const j = await capture(() => kernelCmd.run(['jit', obj, '--prog', 'sum_squares']));
    expect(j.code, j.err).toBe(0);
    const rec = JSON.parse(j.out) as KernelRecord;
    expect(rec.name).toBe('sum_squares');
    expect(rec.func_lens).toHaveLength(2); // main + the bpf_loop callback
  });

  test.skipIf(!avail.ok)('an ELF object with several programs needs --prog; non-syscall programs are refused clearly', async () => {
    const obj = join(REPO_ROOT, 'examples/maps_loop.bpf.o');
    await expect(Promise.resolve().then(() => diffCmd.run([obj]))).rejects.toThrow(/choose one with --prog NAME: sum_squares/);
    await expect(Promise.resolve().then(() => diffCmd.run([obj, '--prog', 'xdp_count']))).rejects.toThrow(/SEC\("xdp"\) \(xdp\); the kernel oracle loads syscall programs only/);
  });
});

// What this host's kernel made of each fixture and example (`bpfjit kernel jit` output, recorded): without
// bpf(), the dump + image give xlated_resolved again, and bpfjit's JIT of it is the kernel's image.
const RECORDED = join(DIR, 'recorded');
describe('recorded kernel output of the fixtures and examples (no bpf() needed)', () => {
  const names = readdirSync(RECORDED).filter((f) => f.endsWith('.kernel.json')).sort();
  test('the records are there (10 fixtures, 5 example programs)', () => expect(names).toHaveLength(15));
  test.each(names)('%s: xlated_resolved from dump + image, and bpfjit reproduces the image', (n) => {
    const rec = JSON.parse(readFileSync(join(RECORDED, n), 'utf8')) as KernelRecord;
    const r = resolveXlated({
      xlated: Buffer.from(rec.xlated, 'hex'),
      jited: Buffer.from(rec.jited, 'hex'),
      funcLens: rec.func_lens,
      userVmStart: rec.user_vm_start === null ? null : BigInt(rec.user_vm_start),
      ksyms: rec.ksyms.map((k) => BigInt(k)),
    });
    expect(r.notes.filter((x) => !x.includes('kept as the loaded address'))).toEqual([]);
    expect(Buffer.from(r.xlatedResolved).toString('hex')).toBe(rec.xlated_resolved);
    const ours = Buffer.concat(jit(decode(r.xlatedResolved), jitOptionsFor(rec)).functions.map((f) => Buffer.from(f.image)));
    expect(ours.toString('hex')).toBe(rec.jited);
  });
});
