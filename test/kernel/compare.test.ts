// compareKernelRecords must see real differences (no bpf() needed: a corpus record against altered copies).
import { describe, expect, test } from 'vitest';
import { compareKernelRecords, sameUpToArenaPointers } from '../../src/kernel/compare.js';
import { fixturePrograms, type KernelResult } from '../helpers/corpus.js';

const progs = fixturePrograms();
const arenaProg = progs.find((p) => p.kernel().kern_vm_start !== null && p.kernel().map_ptr !== null)!;
const base = arenaProg.kernel();
const clone = (): KernelResult => JSON.parse(JSON.stringify(base)) as KernelResult;
const flipHex = (hex: string, byte: number) => hex.slice(0, byte * 2) + ((parseInt(hex.slice(byte * 2, byte * 2 + 2), 16) ^ 0x01).toString(16).padStart(2, '0')) + hex.slice(byte * 2 + 2);

describe('compareKernelRecords', () => {
  test('a record equals itself', () => {
    for (const p of progs) expect(compareKernelRecords(p.kernel(), p.kernel())).toEqual([]);
  });
  test('an image byte in the prologue (sub rsp imm) is a difference', () => {
    const m = clone();
    m.jited = flipHex(m.jited, 11); // 48 81 ec <imm32>: the stack size
    expect(compareKernelRecords(base, m).map((d) => d.field)).toEqual(['jited']);
  });
  test('an xlated offset is a difference in both dumps', () => {
    const m = clone();
    m.xlated = flipHex(m.xlated, 2);
    m.xlated_resolved = flipHex(m.xlated_resolved, 2);
    expect(compareKernelRecords(base, m).map((d) => d.field)).toEqual(['xlated', 'xlated_resolved']);
  });
  test('results: retval, ctx_out, arena pages', () => {
    const m = clone();
    m.retval = (m.retval + 1) >>> 0;
    m.ctx_out = flipHex(m.ctx_out, 5);
    const pg = Object.keys(m.arena_pages_after)[0];
    if (pg !== undefined) m.arena_pages_after[pg] = flipHex(m.arena_pages_after[pg]!, 100);
    const fields = compareKernelRecords(base, m).map((d) => d.field);
    expect(fields).toContain('retval');
    expect(fields).toContain('ctx_out');
    if (pg !== undefined) expect(fields).toContain('arena_pages_after');
    expect(compareKernelRecords(base, m, false)).toEqual([]);
  });
  test('relocated addresses (map pointer, arena base, image) are not differences', () => {
    const m = clone();
    const oldKvs = BigInt(m.kern_vm_start!);
    const newKvs = oldKvs + 0x10000000n;
    const le = (v: bigint) => Buffer.from(new BigUint64Array([v]).buffer).toString('hex');
    m.jited = m.jited.split(le(oldKvs)).join(le(newKvs));
    m.kern_vm_start = `0x${newKvs.toString(16)}`;
    expect(m.jited).not.toBe(base.jited);
    expect(compareKernelRecords(base, m)).toEqual([]);
  });
  test('arena user pointers in data translate through user_vm_start', () => {
    const a = Buffer.alloc(16);
    const b = Buffer.alloc(16);
    a.writeBigUInt64LE(0x7f0000001000n + 0x2008n, 4);
    b.writeBigUInt64LE(0x7e1234560000n + 0x2008n, 4);
    expect(sameUpToArenaPointers(a.toString('hex'), b.toString('hex'), 0x7f0000001000n, 0x7e1234560000n)).toBe(true);
    b.writeBigUInt64LE(0x7e1234560000n + 0x3008n, 4);
    expect(sameUpToArenaPointers(a.toString('hex'), b.toString('hex'), 0x7f0000001000n, 0x7e1234560000n)).toBe(false);
  });
});
