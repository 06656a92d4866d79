// `bpfjit dump` on corpus programs: the listing covers every instruction, its bytes are the kernel's
// image, branch targets are named as BPF instructions, and every arena access shows its fix-up.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { decodeHex } from '../../src/isa/codec.js';
import { fixturePrograms, REPO_ROOT } from '../helpers/corpus.js';
import { ensureBuilt, runCliAsync } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'bpfjit-dump-'));

beforeAll(ensureBuilt);

async function dump(args: string[]): Promise<string> {
  const r = await runCliAsync(args);
  if (r.status !== 0) throw new Error(`bpfjit ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

interface JsonX86 {
  offset: number;
  bytes: string;
  text: string;
  target?: string;
  extable?: { clear: string | null; resume: number; kind: string };
}
interface JsonFn {
  prologue: JsonX86[];
  insns: { pc: number; text: string; x86: JsonX86[] }[];
}

function dumpArgs(k: ReturnType<ReturnType<typeof fixturePrograms>[number]['kernel']>, path: string): string[] {
  const args = ['dump', path, '--dialect', 'kernel-xlated', '--image-base', k.ksyms.join(','), '--call-base', k.call_base];
  if (k.kern_vm_start) args.push('--kern-vm-start', k.kern_vm_start);
  if (k.user_vm_start) args.push('--user-vm-start', k.user_vm_start);
  return args;
}

describe('bpfjit dump', () => {
  const programs = fixturePrograms().slice(0, 12);
  test.each(programs.map((p) => [p.id, p] as const))('%s', async (_id, p) => {
    const k = p.kernel();
    const path = join(dir, `${p.name}.hex`);
    writeFileSync(path, k.xlated_resolved);
    const out = await dump([...dumpArgs(k, path), '--json']);
    const fns = (JSON.parse(out) as { functions: JsonFn[] }).functions;
    // The bytes of the listing, in order, are exactly the kernel's image.
    const bytes = fns.map((f) => [...f.prologue, ...f.insns.flatMap((i) => i.x86)].map((l) => l.bytes).join('')).join('');
    expect(bytes).toBe(k.jited);
    // Every instruction of the program is listed once.
    const prog = decodeHex(k.xlated_resolved);
    expect(fns.flatMap((f) => f.insns.map((i) => i.pc))).toEqual(prog.insns.map((i) => i.pc));
    // Every arena access (PROBE_* mode) carries exactly one exception-table mark.
    const probes = prog.insns.filter((i) => {
      const cls = i.code & 7;
      const mode = i.code & 0xe0;
      return (cls >= 1 && cls <= 3 && mode === 0xa0) || (cls === 1 && mode === 0xc0) || (cls === 3 && mode === 0xe0);
    }).length;
    const marks = fns.flatMap((f) => f.insns.flatMap((i) => i.x86)).filter((l) => l.extable).length;
    expect(marks).toBe(probes);
    // Conditional jumps inside a function name their BPF target instruction.
    for (const f of fns) for (const i of f.insns) for (const l of i.x86) {
      if (/^j(?!mp)/.test(l.text)) expect(l.target ?? '').toMatch(/^insn \d+(\+0x[0-9a-f]+)?$/);
    }
  });

  test('text listing marks the arena base and fix-ups', async () => {
    const p = fixturePrograms().find((q) => q.sidecar().arena !== null && q.kernel().xlated_resolved.includes('a0'))!;
    const k = p.kernel();
    const path = join(dir, `${p.name}.hex`);
    writeFileSync(path, k.xlated_resolved);
    const out = await dump(dumpArgs(k, path));
    expect(out).toMatch(/mov\s+r12, 0x[0-9a-f]+\s+; r12 = kern_vm_start/);
    expect(out).toContain('; on fault:');
    expect(out).toMatch(/^ {3,}0: /m);
  });
});

describe('bpfjit dump of an ELF object (compiled as bpfjit run compiles it)', () => {
  test('C source lines from BTF line info, named helper calls and subprograms', async () => {
    const out = await dump(['dump', join(REPO_ROOT, 'examples/arena_list.bpf.o'), '--prog', 'build_list']);
    // Lines of examples/arena_list.bpf.c, as clang stored them in .BTF.ext.
    expect(out).toMatch(/; \.\/arena_list\.bpf\.c:\d+: .*arena_alloc\(sizeof\(\*n\)\)/);
    expect(out).toMatch(/call +0x[0-9a-f]+ +; → func 1 \(insn \d+\)/);
    expect(out).toMatch(/; → bpf_arena_alloc_pages/);
    expect(out).toContain('; r12 = kern_vm_start');
  });
  test('hello: the printk helper is named at the call', async () => {
    const out = await dump(['dump', join(REPO_ROOT, 'examples/hello.bpf.o')]);
    expect(out).toMatch(/call bpf_trace_printk#/);
    expect(out).toMatch(/; \.\/hello\.bpf\.c:\d+: +bpf_printk/);
  });
});
