// Acceptance 3: BPF_F_SEGV_ON_FAULT from the user side. User space (the arena model's user view, as a process
// would touch its mmap) accessing a missing page: with the flag a SIGSEGV-style ArenaFault and nothing allocated;
// without it the page is allocated into both views, and the program sees it on its next run (and user space sees
// the program's store). Expected values: test/fixtures/arena/userfault.s.
import { afterEach, describe, expect, test } from 'vitest';
import { ArenaFault, arenaFromSpec, allocatedPages, dumpPages, type Arena } from '../../src/arena/index.js';
import { parse } from '../../src/isa/parse.js';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/corpus.js';
import { avail, fixture, kernelRun, kernelSkipNote } from './helpers.js';
import { load, type Loaded } from './pipeline.js';

const withFlag = fixture('userfault');
const noFlag = fixture('userfault', 'noflag');
const prog = parse(readFileSync(withFlag.sPath, 'utf8'));
const u64le = (v: bigint): string => Buffer.from(new BigUint64Array([v]).buffer).toString('hex');
const P2 = 0x100002000n;

let open: { arena: Arena; l: Loaded } | null = null;
afterEach(() => {
  open?.l.close();
  open?.arena.dispose();
  open = null;
});
function setUp(f: typeof withFlag): { arena: Arena; l: Loaded } {
  const arena = arenaFromSpec(f.env.arena!);
  open = { arena, l: load(prog, f.env, arena) };
  return open;
}

describe('BPF_F_SEGV_ON_FAULT: user-side accesses to a missing page', () => {
  test('with the flag: a user write or read of a missing page is a SIGSEGV-style fault; nothing is allocated', () => {
    const { arena, l } = setUp(withFlag);
    expect(() => arena.writeU64(P2 + 8n, 7n)).toThrow(ArenaFault);
    expect(() => arena.writeU64(P2 + 8n, 7n)).toThrow(/SIGSEGV: user write at 0x100002008 to a page not allocated \(BPF_F_SEGV_ON_FAULT\)/);
    expect(() => arena.readU64(P2)).toThrow(/SIGSEGV: user read at 0x100002000/);
    expect(allocatedPages(arena)).toEqual([]);
    // The program then finds page 2 free: its allocation succeeds, the page is new and zeroed.
    const r = l.run();
    expect(r.fault).toBeNull();
    expect(Buffer.from(r.ctx).toString('hex')).toBe(u64le(P2) + u64le(0n));
    // Now the page exists: user space reads the program's store without a fault.
    expect(arena.readU64(P2 + 16n)).toBe(99n);
  });

  test('without the flag: the user write allocates page 2 in both views; the next run sees it', () => {
    const { arena, l } = setUp(noFlag);
    arena.writeU64(P2 + 8n, 7n);
    expect(allocatedPages(arena)).toEqual([2]);
    const page = arena.pages().find((p) => p.pgoff === 2)!;
    expect(page.userAddr).toBe(P2);
    expect(page.kernAddr).toBe(arena.kernVmStart + 0x2000n);
    const r = l.run();
    // Both views are mapped in the emulator's guest memory: the same bytes at the kernel and the user address.
    const uc = l.engine.space.uc;
    expect(Buffer.from(uc.memRead(page.userAddr!, 24)).toString('hex')).toBe(u64le(0n) + u64le(7n) + u64le(99n));
    expect(Buffer.from(uc.memRead(page.kernAddr, 24)).toString('hex')).toBe(u64le(0n) + u64le(7n) + u64le(99n));
    expect(r.fault).toBeNull();
    expect(r.arenaFaults).toEqual([]);
    // alloc(hint page 2) → NULL (taken by the user fault); the kernel view reads the user's 7.
    expect(Buffer.from(r.ctx).toString('hex')).toBe(u64le(0n) + u64le(7n));
    expect(arena.readU64(P2 + 16n)).toBe(99n);
    // A second run sees the same page (still allocated, still holding the user's value).
    expect(Buffer.from(l.run().ctx).toString('hex')).toBe(u64le(0n) + u64le(7n));
  });
});

describe.skipIf(!avail.ok)('without the flag: the running kernel agrees (prefault = a user write before the run)', () => {
  test('retval, ctx, arena pages', () => {
    const k = kernelRun(noFlag);
    const arena = arenaFromSpec(noFlag.env.arena!);
    const l = load(prog, noFlag.env, arena);
    open = { arena, l };
    arena.writeU64(P2 + 8n, 7n);
    const r = l.run();
    expect(k.retval).toBe(r.retval);
    expect(k.ctx_out).toBe(Buffer.from(r.ctx).toString('hex'));
    expect(k.arena_pages_after).toEqual(dumpPages(arena));
    expect(k.arena_allocated_after).toEqual(allocatedPages(arena));
  });
});
if (!avail.ok) test.skip(`userfault: kernel comparison ${kernelSkipNote}`, () => {});

// The same user-side accesses on a live kernel arena, in a child process (the SIGSEGV would kill this one).
describe.skipIf(!avail.ok)('user-side read of a missing page of a live kernel arena (child process)', () => {
  const child = (mode: string): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/vite-node/vite-node.mjs'), join(REPO_ROOT, 'test/e2e-arena/segv-child.ts'), mode], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
  test('with BPF_F_SEGV_ON_FAULT: SIGSEGV, as the model throws ArenaFault', () => {
    const r = child('segv');
    expect(r.signal).toBe('SIGSEGV');
  });
  test('without: the read allocates the page (zeroed), as the model does', () => {
    const r = child('noflag');
    expect(r.status).toBe(0);
    expect(JSON.parse(String(r.stdout).trim().split('\n').at(-1)!)).toEqual({ read: 'zero', allocated: [2] });
    const arena = arenaFromSpec(noFlag.env.arena!);
    try {
      expect(arena.readU64(P2)).toBe(0n);
      expect(allocatedPages(arena)).toEqual([2]);
    } finally {
      arena.dispose();
    }
  });
});
