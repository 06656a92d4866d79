// Acceptance 7: `bpfjit run --arena-dump` lists every allocated page (zero ones too) with its kernel and user
// address. allocfull.s leaves pages 0..3 allocated at user 0x100000000 + 0x1000·pg (map_extra), page 1 zero;
// its one fault (a read of page 1 through the freed pointer, kern_vm_start + 0x1000) gives kern_vm_start
// independently of the dump.
import { describe, expect, test } from 'vitest';
import { emuRun, fixture, runCli } from './helpers.js';

const f = fixture('allocfull');

describe('bpfjit run --arena-dump', () => {
  test('--json: arenaDump has each page in both views', () => {
    const { code, json } = emuRun(f, ['--arena-dump']);
    expect(code).toBe(0);
    const fault = json!.arenaFaults[0]!;
    const kern = BigInt(fault.address) - BigInt(fault.offset);
    expect(json!.arenaDump!.map((p) => [p.pgoff, BigInt(p.kernAddr), BigInt(p.userAddr!), p.bytes === null])).toEqual(
      [0, 1, 2, 3].map((pg) => [pg, kern + BigInt(pg) * 0x1000n, 0x100000000n + BigInt(pg) * 0x1000n, pg === 1]),
    );
    expect(json!.arenaDump![2]!.bytes!.slice(0, 2)).toBe('33');
  });

  test('text: one line per page, kernel and user address, zero pages marked', () => {
    const { code, out } = runCli([f.sPath, '--env', f.envPath, '--arena-dump']);
    expect(code).toBe(0);
    expect(out).toContain('arena: 4 page(s) allocated');
    const lines = out.filter((l) => l.startsWith('arena page '));
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^arena page 1: kernel 0xffff[0-9a-f]+ user 0x100001000: zero$/);
    expect(lines[3]).toMatch(/^arena page 3: kernel 0xffff[0-9a-f]+ user 0x100003000: 44(00){4095}$/);
  });

  test('without --arena-dump nothing is listed', () => {
    const { out } = runCli([f.sPath, '--env', f.envPath]);
    expect(out.some((l) => l.startsWith('arena page '))).toBe(false);
    expect(emuRun(f).json!.arenaDump).toBeUndefined();
  });
});
