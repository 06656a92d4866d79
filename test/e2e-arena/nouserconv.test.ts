// Acceptance 2: BPF_F_NO_USER_CONV — the cast to user becomes a 32-bit move in the front end's xlated program
// and in the JIT image (`bpfjit dump`); results equal the kernel's. Expected values: test/fixtures/arena/nouserconv.s.
import { describe, expect, test } from 'vitest';
import { dumpCmd } from '../../src/cli/dump.js';
import { decodeHex } from '../../src/isa/codec.js';
import { avail, emuRun, fixture, kernelRun, kernelSkipNote, runCli } from './helpers.js';

const noConv = fixture('nouserconv');
const conv = fixture('nouserconv', 'conv');
const u64le = (v: bigint): string => Buffer.from(new BigUint64Array([v]).buffer).toString('hex');

const isX86 = (l: string): boolean => /^\s+[0-9a-f]{4}: [0-9a-f]{2,}\s{2,}\S/.test(l);
const isBpf = (l: string): boolean => /^\s+\d+: /.test(l) && !isX86(l);

/** The dump of BPF instruction `pc`: its text line, then its x86 lines (comments left out). */
function dumpOf(lines: readonly string[], pc: number): string[] {
  const i = lines.findIndex((l) => isBpf(l) && new RegExp(`^\\s+${pc}: `).test(l));
  if (i < 0) return [];
  const end = lines.findIndex((l, j) => j > i && isBpf(l));
  return [lines[i]!, ...lines.slice(i + 1, end < 0 ? undefined : end).filter(isX86)];
}

describe('BPF_F_NO_USER_CONV', () => {
  test('front end and JIT: the cast to user is `w2 = w1`, one 32-bit mov (89 /r)', () => {
    const c = runCli([noConv.sPath, '--env', noConv.envPath], dumpCmd);
    expect(c.code).toBe(0);
    const cast = dumpOf(c.out, 13);
    expect(cast[0]).toMatch(/^\s+13: w2 = w1$/);
    expect(cast.slice(1)).toHaveLength(1);
    expect(cast[1]).toMatch(/^\s+[0-9a-f]{4}: 89fe\s+mov\s+esi, edi$/);
    expect(dumpOf(c.out, 16)[0]).toMatch(/^\s+16: w3 = w3$/);
  });

  test('without the flag the cast stays and merges user_vm_start (several x86 instructions)', () => {
    const c = runCli([conv.sPath, '--env', conv.envPath], dumpCmd);
    expect(c.code).toBe(0);
    const cast = dumpOf(c.out, 13);
    expect(cast[0]).toMatch(/^\s+13: r2 = addr_space_cast\(r1, 1, 0\)$/);
    expect(cast.join('\n')).toMatch(/cmov/);
  });

  test('run: the user pointer keeps only the lower 32 bits; NULL stays NULL', () => {
    const { code, json } = emuRun(noConv);
    expect(code).toBe(0);
    expect(json!.ctx).toBe(u64le(0x3010n) + u64le(0x100003000n) + u64le(0n) + u64le(42n));
    const c = emuRun(conv);
    expect(c.json!.ctx).toBe(u64le(0x100003010n) + u64le(0x100003000n) + u64le(0n) + u64le(42n));
  });
});

describe.skipIf(!avail.ok)('BPF_F_NO_USER_CONV: the running kernel agrees', () => {
  for (const f of [noConv, conv]) {
    test(`${f.envPath.split('/').at(-1)}: retval, ctx, arena pages and the cast's xlated form`, () => {
      const k = kernelRun(f);
      const { json } = emuRun(f);
      expect(k.retval).toBe(json!.retval);
      expect(k.ctx_out).toBe(json!.ctx);
      expect(k.arena_pages_after).toEqual(json!.arenaPages);
      const x = decodeHex(k.xlated_resolved).insns.find((i) => i.pc === 13)!;
      if (f === noConv) expect([x.code, x.dst, x.src, x.off, x.imm]).toEqual([0xbc, 2, 1, 0, 0]);
      else expect([x.code, x.dst, x.src, x.off, x.imm]).toEqual([0xbf, 2, 1, 1, 0x10000]);
    });
  }
});
if (!avail.ok) test.skip(`nouserconv: kernel comparison ${kernelSkipNote}`, () => {});
