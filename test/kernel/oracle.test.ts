// The oracle against the kernel corpus: loading each corpus program on this host must give the recorded
// image, verified program and results (equal up to per-load and per-build addresses). Needs bpf().
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { bpfAvailability, runInKernel } from '../../src/kernel/index.js';
import { compareKernelRecords } from '../../src/kernel/compare.js';
import { parseEnv } from '../../src/env.js';
import { allPrograms, fixturePrograms, type CorpusProgram } from '../helpers/corpus.js';

const avail = bpfAvailability();
if (!avail.ok) console.log(`test/kernel/oracle: SKIPPED, bpf() not permitted here: ${avail.reason}`);

/** kernel.txt with what differs per load/build masked: BTF ids, kernel pointers, kernel-chosen arena addresses. */
const maskText = (t: string) =>
  t.replace(/#\d+/g, '#ID').replace(/0xffff[0-9a-f]{12}/g, 'KPTR').replace(/0x7f[0-9a-f]{10}/g, 'UPTR');

/** ld_imm64_checked without what differs per load: the map pointer, and arena addresses relative to user_vm_start. */
type Checked = { ld_imm64_checked: readonly { insn: number; kind: string; value: string; movabs_in_jit: boolean }[]; user_vm_start: string | null };
const checks = (r: Checked) =>
  r.ld_imm64_checked.map((c) => `${c.insn} ${c.kind} ${c.movabs_in_jit} ${c.kind === 'arena_addr' ? (BigInt(c.value) - BigInt(r.user_vm_start ?? 0)).toString(16) : ''}`);

function check(p: CorpusProgram, withText: boolean): string[] {
  const side = p.sidecar();
  const ref = p.kernel();
  const { record, kernelText } = runInKernel(p.bin(), parseEnv(side), { name: p.name, verifierText: withText });
  const results = side.deterministic !== false;
  const problems = compareKernelRecords(ref, record, results).map((d) => `${d.field}: ${d.detail}`);
  if (record.resolve_notes.length) problems.push(`notes: ${record.resolve_notes.join('; ')}`);
  if (record.verified_insns !== ref.verified_insns) problems.push(`verified_insns ${record.verified_insns} vs ${ref.verified_insns}`);
  for (const f of ['insn_count', 'verifier_log', 'inline_helper_loads', 'ld_imm64_checked', 'arena_allocated_after', 'resolve_notes'] as const) {
    if (f === 'resolve_notes' && ref.jit_check.startsWith('heuristic')) continue; // the corpus's byte scan could alias immediates
    if (f === 'arena_allocated_after' && !results) continue;
    const norm = (r: object) => (f === 'ld_imm64_checked' ? checks(r as Checked) : (r as Record<string, unknown>)[f]);
    if (JSON.stringify(norm(record)) !== JSON.stringify(norm(ref))) problems.push(`${f}: ${JSON.stringify(record[f])} vs ${JSON.stringify(ref[f])}`);
  }
  if (withText && maskText(kernelText ?? '') !== maskText(p.kernelText())) problems.push('kernel.txt');
  return problems.map((x) => `${p.id}: ${x}`);
}

describe.skipIf(!avail.ok)('resources', () => {
  test('every fd closed and every arena unmapped, also when the load or the environment fails', () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const arenaMaps = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('anon_inode:bpf-map')).length;
    const progs = fixturePrograms().filter((p) => p.sidecar().arena !== null).slice(0, 3);
    runInKernel(progs[0]!.bin(), parseEnv(progs[0]!.sidecar())); // warm-up: libraries, kallsyms, BTF
    const before = [fds(), arenaMaps()];
    for (const p of progs) runInKernel(p.bin(), parseEnv(p.sidecar()));
    const env = parseEnv(progs[0]!.sidecar());
    const refused = new Uint8Array(Buffer.from('18110000000000000000000000000000' + '9500000000000000', 'hex')); // r1 = map; exit (r0 unset)
    expect(() => runInKernel(refused, env)).toThrow(/R0 !read_ok/);
    expect(() => runInKernel(progs[0]!.bin(), { ...env, prefault: { '9999': '00'.repeat(4096) } })).toThrow(/outside the arena/);
    expect([fds(), arenaMaps()]).toEqual(before);
    expect(before[1]).toBe(0);
  });
});

describe.skipIf(!avail.ok)('runInKernel on this host vs the recorded corpus', () => {
  test('fixture programs: image, xlated, xlated_resolved, kernel.txt, retval, ctx_out, arena pages', () => {
    const bad = fixturePrograms().flatMap((p) => check(p, true));
    expect(bad).toEqual([]);
  });

  const all = allPrograms();
  test.skipIf(all.source !== 'shared')(`every shared corpus program (${all.programs.length})`, () => {
    const bad = all.programs.flatMap((p) => check(p, false));
    console.log(`oracle parity: ${all.programs.length - new Set(bad.map((b) => b.split(':')[0])).size}/${all.programs.length} programs equal`);
    expect(bad).toEqual([]);
  }, 300_000);
});
