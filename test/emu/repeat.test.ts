// RunOptions.repeat: N runs in one emulator entry through the guest driver (REPEAT_CODE), with the semantics
// of BPF_PROG_TEST_RUN's repeat — same context memory, nothing reset between runs, the last run's result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, LAYOUT, compileFor } from '../../src/emu/index.js';
import { REPEAT_CODE } from '../../src/emu/engine.js';
import type { ExEntry, JitFunction } from '../../src/jit/types.js';
import { Arena } from '../../src/arena/index.js';
import { DEFAULT_ENV } from '../../src/env.js';
import { parse } from '../../src/isa/index.js';
import { assembler } from '../jit/keystone.js';

let asm: (text: string) => string;
let engine: Engine;
beforeAll(async () => {
  asm = await assembler();
  engine = new Engine();
});
afterAll(() => engine.close());

function load(text: string): void {
  engine.unload();
  compileFor(engine, parse(text), { env: DEFAULT_ENV });
}

describe('repeat', () => {
  it('the driver is the code its comments say (keystone)', () => {
    const body = asm('mov rdi, qword ptr [rsp + 0x18]; call qword ptr [rsp + 0x10]; dec qword ptr [rsp + 8]');
    const expected = `${body}75${(0x100 - (body.length / 2 + 2)).toString(16)}c3`;
    expect(Buffer.from(REPEAT_CODE).toString('hex')).toBe(expected);
  });

  it('N runs on one context: state carries over, r0 is the last run', () => {
    load('r0 = *(u32 *)(r1 + 0)\nr0 += 1\n*(u32 *)(r1 + 0) = r0\nexit');
    const r = engine.run({ ctx: new Uint8Array(8), repeat: 1000 });
    expect(r.fault).toBeNull();
    expect(r.runs).toBe(1000);
    expect(r.r0).toBe(1000n);
    expect([...r.ctx.subarray(0, 4)]).toEqual([0xe8, 0x03, 0, 0]);
    // The next call starts again from the caller's context.
    const again = engine.run({ ctx: new Uint8Array(8) });
    expect([again.r0, again.runs]).toEqual([1n, 1]);
  });

  it('each run starts with the same stack pointer and r1 as a single run', () => {
    load('r0 = r10\nr0 ^= r1\nexit');
    const single = engine.run({});
    const repeated = engine.run({ repeat: 7 });
    expect(repeated.fault).toBeNull();
    expect(repeated.r0).toBe(single.r0);
    expect(single.r0).toBe((LAYOUT.stackTop - 64n - 8n) ^ LAYOUT.ctx); // rbp after `push rbp`
  });

  it('helper calls in every run', () => {
    load('call bpf_get_prandom_u32\nr0 = 5\nexit');
    const calls: string[] = [];
    const r = engine.run({ repeat: 4, onEvent: (e) => void (e.kind === 'call' && calls.push(e.name)) });
    expect(r.fault).toBeNull();
    expect([r.r0, r.runs, calls.length]).toEqual([5n, 4, 4]);
  });

  it('a fault in run k stops the batch and says how many completed', () => {
    // Run 3 reads through a null pointer: the context counter reaches 3 there.
    load('r2 = *(u32 *)(r1 + 0)\nr2 += 1\n*(u32 *)(r1 + 0) = r2\nif r2 != 3 goto +2\nr3 = 0\nr0 = *(u64 *)(r3 + 0)\nr0 = 0\nexit');
    const r = engine.run({ ctx: new Uint8Array(8), repeat: 10 });
    expect(r.fault?.kind).toBe('read');
    expect(r.fault?.pc).toBe(5);
    expect(r.runs).toBe(2);
    // The engine is usable afterwards.
    expect(engine.run({ ctx: new Uint8Array(8), repeat: 2 }).runs).toBe(2);
  });

  it('the wall-clock limit covers the whole batch', () => {
    load('r0 = 0\nexit');
    const r = engine.run({ repeat: 2 ** 40, timeoutMs: 50 });
    expect(r.fault?.kind).toBe('timeout');
    expect(r.runs).toBeGreaterThan(0);
    expect(r.runs).toBeLessThan(2 ** 40);
  });

  it('arena faults are resolved by the exception table in every run', () => {
    const arena = new Arena({ maxEntries: 4, flags: 1 << 10, mapExtra: 0x100000000n }, { kernVmStart: 0xffffc90400000000n });
    arena.allocPages(0n, 1n, 0n, 0n);
    engine.unload();
    engine.setArena(arena);
    const kern = arena.kernVmStart;
    const head = asm(`push r12; mov r12, 0x${kern.toString(16)}; mov esi, 0x1000; mov rax, 0x77`);
    const load8 = asm('mov rax, qword ptr [rsi + r12 + 16]');
    const tail = asm('pop r12; ret');
    const image = new Uint8Array(Buffer.from(head + load8 + tail, 'hex'));
    const extable: ExEntry[] = [{ offset: head.length / 2, length: load8.length / 2, clearReg: 0, addrReg: 6, off: 16, pc: 0, kind: 'load' }];
    const f: JitFunction = { firstPc: 0, endPc: 1, imageBase: LAYOUT.imageBase, image, stackDepth: 0, addrs: new Int32Array([0, image.length]), extable };
    engine.load([f]);
    const r = engine.run({ repeat: 5 });
    expect(r.fault).toBeNull();
    expect([r.r0, r.runs, r.arenaFaults.length]).toEqual([0n, 5, 5]);
    engine.unload();
    engine.setArena(null);
    arena.dispose();
  });

  it('refuses a repeat count that is not a positive integer', () => {
    load('r0 = 0\nexit');
    expect(() => engine.run({ repeat: 0 })).toThrow(/repeat/);
    expect(() => engine.run({ repeat: 1.5 })).toThrow(/repeat/);
  });
});
