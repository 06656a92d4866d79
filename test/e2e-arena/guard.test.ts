// Acceptance 1: PROBE_MEM32 accesses that leave the arena's 4 GiB into the 32 KiB guards (and a store that
// straddles the last page and the guard) through the real pipeline: front end → JIT → Unicorn + src/arena.
// Expected values are worked out in test/fixtures/arena/guard.s; the kernel comparison runs where bpf() may.
import { describe, expect, test } from 'vitest';
import { avail, emuRun, fixture, kernelRun, kernelSkipNote, page, runCli } from './helpers.js';

const f = fixture('guard');
const G4 = 2 ** 32;

/** ctx after the run: the loads' results at 0..55 (untouched bytes stay 0xff). */
const expectedCtx = 'f8f9fafbfcfdfeff' + '00'.repeat(48) + 'ff'.repeat(8);
/** Page 3 after the run: the prefault pattern with only byte 0xff8 changed (the straddling store wrote nothing). */
function expectedPage3(): Uint8Array {
  const p = new Uint8Array(4096).map((_, i) => i & 0xff);
  p[0xff8] = 0x55;
  return p;
}
// (BPF insn, kind, offset from kern_vm_start of the first missing byte) — see the comments in guard.s.
const expectedFaults: [number, 'read' | 'write', number][] = [
  [8, 'read', G4], [11, 'read', G4], [14, 'read', G4 + 0x7ff4], [17, 'read', G4 + 4],
  [21, 'write', G4], [22, 'write', G4], [23, 'write', G4 + 0x7ff4],
  [28, 'read', -8], [31, 'read', -0x8000], [33, 'write', -16], [34, 'write', -0x8000],
];

describe('guard-region faults (bpfjit run)', () => {
  const { code, json } = emuRun(f);

  test('the program runs to its exit: faulting loads give 0, faulting stores are dropped', () => {
    expect(code).toBe(0);
    expect(json!.fault).toBeNull();
    expect(json!.r0).toBe('0xfffefdfcfbfaf955');
    expect(json!.ctx).toBe(expectedCtx);
  });

  test('a store straddling the last page and the upper guard writes nothing (x86 faults before writing)', () => {
    expect(Buffer.from(page(json!.arenaPages, 3)).equals(Buffer.from(expectedPage3()))).toBe(true);
    expect(json!.arenaAllocated).toEqual([0, 1, 2, 3]);
  });

  test('each fault is recorded once with instruction, kind and address', () => {
    const got = json!.arenaFaults.map((a) => [a.insn, a.kind, a.offset]);
    expect(got).toEqual(expectedFaults);
    const kern = BigInt(json!.arenaFaults[0]!.address) - BigInt(G4);
    for (const a of json!.arenaFaults) expect(BigInt(a.address)).toBe(kern + BigInt(a.offset));
  });

  test('the text output lists every fault', () => {
    const c = runCli([f.sPath, '--env', f.envPath]);
    expect(c.code).toBe(0);
    expect(c.out).toContain(`arena faults resolved by the exception table: ${expectedFaults.length}`);
    const lines = c.out.filter((l) => /^ {2}insn \d+: (read|write) at 0x/.test(l));
    expect(lines).toHaveLength(expectedFaults.length);
    expect(lines[0]).toMatch(/^ {2}insn 8: read at 0x[0-9a-f]+ \(kern_vm_start\+0x100000000, upper guard\): loaded 0$/);
    expect(lines[7]).toMatch(/^ {2}insn 28: read at 0x[0-9a-f]+ \(kern_vm_start-0x8, lower guard\): loaded 0$/);
    expect(lines[10]).toMatch(/insn 34: write .*-0x8000, lower guard\): dropped$/);
  });
});

describe.skipIf(!avail.ok)('guard-region faults: the running kernel agrees', () => {
  test('retval, ctx and arena pages equal', () => {
    const k = kernelRun(f);
    const { json } = emuRun(f);
    expect(k.retval).toBe(json!.retval);
    expect(k.ctx_out).toBe(json!.ctx);
    expect(k.arena_pages_after).toEqual(json!.arenaPages);
    expect(k.arena_allocated_after).toEqual(json!.arenaAllocated);
  });
});
if (!avail.ok) test.skip(`guard: kernel comparison ${kernelSkipNote}`, () => {});

// Atomics (PROBE_ATOMIC) that fault in the guard or straddle into a missing page; test/fixtures/arena/guard-atomic.s.
const fa = fixture('guard-atomic');
describe('faulting arena atomics and straddling accesses inside the arena', () => {
  const { code, json } = emuRun(fa);
  const u64le = (v: bigint): string => Buffer.from(new BigUint64Array([BigInt.asUintN(64, v)]).buffer).toString('hex');

  test('registers kept by faulting atomics, zero from the straddling load, page 1 / page 3 unchanged', () => {
    expect(code).toBe(0);
    expect(json!.r0).toBe('0xfffefdfcfbfaf9f8');
    expect(json!.ctx).toBe(u64le(5n) + u64le(5n) + u64le(-1n) + u64le(0n) + u64le(0xfffefdfcn) + u64le(0n));
    const pattern = Buffer.from(new Uint8Array(4096).map((_, i) => i & 0xff));
    expect(Buffer.from(page(json!.arenaPages, 1)).equals(pattern)).toBe(true);
    expect(Buffer.from(page(json!.arenaPages, 3)).equals(pattern)).toBe(true);
    expect(json!.arenaAllocated).toEqual([0, 1, 3]);
  });

  test('faults: guard at 4 GiB, the first byte of missing page 2 (0xffffe000), accesses starting in page 2 (0xffffeffc)', () => {
    expect(json!.arenaFaults.map((a) => [a.insn, a.offset])).toEqual([
      [6, G4], [8, G4], [11, G4], [15, G4], [21, 0xffffe000], [22, 0xffffe000], [24, 0xffffe000],
      [32, 0xffffeffc], [34, 0xffffeffc],
    ]);
  });

  test.skipIf(!avail.ok)('the running kernel agrees', () => {
    const k = kernelRun(fa);
    expect(k.retval).toBe(json!.retval);
    expect(k.ctx_out).toBe(json!.ctx);
    expect(k.arena_pages_after).toEqual(json!.arenaPages);
    expect(k.arena_allocated_after).toEqual(json!.arenaAllocated);
  });
});

// Page-crossing stores while the program allocates and frees the neighbour page; test/fixtures/arena/edge-runtime.s.
const fe = fixture('edge-runtime');
describe('page-crossing stores around pages the program allocates and frees', () => {
  const { code, json } = emuRun(fe);
  test('dropped while page 2 is missing, written while it exists', () => {
    expect(code).toBe(0);
    expect(json!.ctx).toBe('88776655' + '00'.repeat(4) + '00'.repeat(8));
    expect(json!.arenaAllocated).toEqual([1]);
    const p1 = page(json!.arenaPages, 1);
    expect(Buffer.from(p1.subarray(0xff8)).toString('hex')).toBe('0000000088776655');
    expect(json!.arenaFaults.map((a) => [a.insn, a.kind, a.offset])).toEqual([[12, 'write', 0x2000], [32, 'write', 0x2000]]);
  });
  test.skipIf(!avail.ok)('the running kernel agrees', () => {
    const k = kernelRun(fe);
    expect(k.ctx_out).toBe(json!.ctx);
    expect(k.arena_pages_after).toEqual(json!.arenaPages);
    expect(k.arena_allocated_after).toEqual(json!.arenaAllocated);
  });
});
