// The engine on hand-assembled x86 (keystone, an independent assembler): results, helpers, bpf_loop, arena
// exception-table faults, and clear reports for faults and limits — each followed by a good run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, BPF_LOOP_CODE, HelperId, LAYOUT } from '../../src/emu/index.js';
import { firstInvalidInsn } from '../../src/emu/locate.js';
import type { ExEntry, JitFunction } from '../../src/jit/types.js';
import { Arena } from '../../src/arena/index.js';
import { assembler } from '../jit/keystone.js';

let asm: (text: string) => string;
const BASE = LAYOUT.imageBase;

/** One function at `base`; addrs treat each x86 instruction... (one BPF slot covering the whole image). */
function fn(hex: string, base: bigint = BASE, extable: ExEntry[] = []): JitFunction {
  const image = new Uint8Array(Buffer.from(hex, 'hex'));
  return { firstPc: 0, endPc: 1, imageBase: base, image, stackDepth: 0, addrs: new Int32Array([0, image.length]), extable };
}

/** `call target` from `at` as bytes. */
function callTo(at: bigint, target: bigint): string {
  const b = Buffer.alloc(5);
  b[0] = 0xe8;
  b.writeInt32LE(Number(BigInt.asIntN(64, target - (at + 5n))), 1);
  return b.toString('hex');
}

let engine: Engine;
beforeAll(async () => {
  asm = await assembler();
  engine = new Engine();
});
afterAll(() => engine.close());

const GOOD = 'mov eax, dword ptr [rdi]; add eax, 1; mov dword ptr [rdi + 4], eax; ret';
function goodRun(): void {
  engine.load([fn(asm(GOOD))]);
  const r = engine.run({ ctx: new Uint8Array([41, 0, 0, 0, 0, 0, 0, 0]) });
  expect(r.fault).toBeNull();
  expect(r.retval).toBe(42);
  expect([...r.ctx]).toEqual([41, 0, 0, 0, 42, 0, 0, 0]);
}

describe('engine basics', () => {
  it('runs code, passes the context in rdi and copies it back', () => {
    goodRun();
    goodRun(); // a second run on the same engine
  });

  it('returns r0 as 64 bits and retval as u32', () => {
    engine.load([fn(asm('mov rax, 0x1234567890abcdef; ret'))]);
    const r = engine.run();
    expect(r.r0).toBe(0x1234567890abcdefn);
    expect(r.retval).toBe(0x90abcdef);
  });

  it('executes BMI2 shifts (the reference CPU has them)', () => {
    engine.load([fn(asm('mov rdx, 5; mov rcx, 3; shlx rax, rdx, rcx; ret'))]);
    expect(engine.run().retval).toBe(40);
  });

  it('reads CPU 0 and jiffies the way the kernel inlines bpf_get_smp_processor_id / bpf_jiffies64', () => {
    const s = engine.inlineSymbols;
    const cpu = `mov rax, ${BigInt.asIntN(64, s.cpuNumber)}; add rax, qword ptr gs:[${BigInt.asIntN(64, s.thisCpuOff)}]; mov eax, dword ptr [rax]; ret`;
    engine.load([fn(asm(cpu))]);
    expect(engine.run().r0).toBe(0n);
    engine.load([fn(asm(`mov rax, ${BigInt.asIntN(64, s.jiffies)}; mov rax, qword ptr [rax]; ret`))]);
    expect(engine.run().r0).toBe(engine.state.jiffies);
  });
});

describe('helpers', () => {
  it('calls helpers through trampolines at callBase + imm, with r1-r5 and the result in r0', () => {
    const target = engine.resolveCall('helper', HelperId.get_prandom_u32);
    engine.load([fn(asm('push rbp; mov rbp, rsp') + callTo(BASE + 4n, target) + asm('leave; ret'))]);
    const a = engine.run().r0;
    const b = engine.run().r0;
    expect(a).toBeLessThan(1n << 32n);
    expect(a).not.toBe(b);
    const other = new Engine();
    other.load([fn(asm('push rbp; mov rbp, rsp') + callTo(BASE + 4n, target) + asm('leave; ret'))]);
    expect(other.run().r0).toBe(a); // same default seed, same sequence
    other.close();
  });

  it('captures bpf_trace_printk output', () => {
    const target = engine.resolveCall('helper', HelperId.trace_printk);
    const fmt = Buffer.from('x=%d y=%s\0');
    const pre = asm(`mov rdi, ${LAYOUT.ctx}; mov esi, ${fmt.length}; mov rdx, -5; mov rcx, ${LAYOUT.ctx + 16n}`);
    engine.load([fn(pre + callTo(BASE + BigInt(pre.length / 2), target) + asm('ret'))]);
    const ctx = Buffer.alloc(32);
    fmt.copy(ctx);
    Buffer.from('hi\0').copy(ctx, 16);
    const r = engine.run({ ctx });
    expect(r.fault).toBeNull();
    expect(r.output).toEqual(['x=-5 y=hi']);
    expect(r.retval).toBe('x=-5 y=hi'.length);
  });

  it('array and hash maps live in guest memory', () => {
    const arr = engine.addMap({ kind: 'array', keySize: 4, valueSize: 8, maxEntries: 4 });
    const lookup = engine.resolveCall('helper', HelperId.map_lookup_elem);
    // key 2 on the stack; r0 = lookup(map, &key); *(u64 *)r0 += 7; return *(u64 *)r0
    const pre = asm(`push rbp; mov rbp, rsp; sub rsp, 8; mov dword ptr [rbp - 8], 2; mov rdi, ${arr.ptr}; lea rsi, [rbp - 8]`);
    const post = asm('add qword ptr [rax], 7; mov rax, qword ptr [rax]; leave; ret');
    engine.load([fn(pre + callTo(BASE + BigInt(pre.length / 2), lookup) + post)]);
    expect(engine.run().r0).toBe(7n);
    expect(engine.run().r0).toBe(14n);
    expect(arr.entries()['02000000']).toBe('0e00000000000000');
  });

  it('bpf_loop runs a BPF callback as guest code (hand-assembled bytes match keystone)', () => {
    const text =
      'test rcx, rcx; jne 0x47; cmp edi, 0x800000; ja 0x4f; push rbx; push r12; push r13; push r14; mov ebx, edi; ' +
      'mov r12, rsi; mov r13, rdx; xor r14d, r14d; cmp rbx, r14; jbe 0x3c; mov rdi, r14; mov rsi, r13; xor edx, edx; ' +
      'xor ecx, ecx; xor r8d, r8d; call r12; inc r14; test rax, rax; je 0x1f; mov rax, r14; pop r14; pop r13; pop r12; ' +
      'pop rbx; ret; mov rax, -22; ret; mov rax, -7; ret';
    expect(Buffer.from(BPF_LOOP_CODE).toString('hex')).toBe(asm(text));
    const loop = engine.resolveCall('helper', HelperId.loop);
    const cbBase = BASE + 0x800n;
    // callback(i, ctx): *(u64 *)ctx += i; return i == 6
    const cb = asm('add qword ptr [rsi], rdi; xor eax, eax; cmp rdi, 6; sete al; ret');
    const pre = asm(`push rbp; mov rbp, rsp; mov rdx, rdi; mov edi, 10; mov rsi, ${cbBase}; xor ecx, ecx`);
    engine.load([fn(pre + callTo(BASE + BigInt(pre.length / 2), loop) + asm('leave; ret')), fn(cb, cbBase)]);
    const r = engine.run({ ctx: new Uint8Array(8) });
    expect(r.fault).toBeNull();
    expect(r.r0).toBe(7n); // stopped after i = 6: i + 1
    expect(Buffer.from(r.ctx).readBigUInt64LE(0)).toBe(21n); // 0 + 1 + … + 6
  });
});

describe('arena', () => {
  it('maps allocated pages at both addresses; a missing page reads 0 and drops stores (exception table)', () => {
    const arena = new Arena({ maxEntries: 4, flags: 1 << 10, mapExtra: 0x100000000n }, { kernVmStart: 0xffffc90400000000n });
    arena.allocPages(0n, 1n, 0n, 0n); // page 0
    engine.setArena(arena);
    const kern = arena.kernVmStart;
    // r12 = kern_vm_start; rdi = 0 (page 0), rsi = 0x1000 (page 1, not allocated)
    const parts = [
      asm(`push r12; mov r12, 0x${kern.toString(16)}; xor edi, edi; mov esi, 0x1000; mov qword ptr [rdi + r12 + 8], 0x55`),
      asm('mov qword ptr [rsi + r12 + 8], 0x66'),
      asm('mov rax, 0x77; mov rax, qword ptr [rsi + r12 + 16]'),
      asm('add rax, qword ptr [rdi + r12 + 8]; pop r12; ret'),
    ];
    const store = parts[0]!.length / 2;
    const load = store + parts[1]!.length / 2 + asm('mov rax, 0x77').length / 2;
    const extable: ExEntry[] = [
      { offset: store, length: parts[1]!.length / 2, clearReg: null, addrReg: 6, off: 8, pc: 1, kind: 'store' },
      { offset: load, length: 5, clearReg: 0, addrReg: 6, off: 16, pc: 2, kind: 'load' },
    ];
    engine.load([fn(parts.join(''), BASE, extable)]);
    const r = engine.run({ ctx: new Uint8Array(8) });
    expect(r.fault).toBeNull();
    expect(r.r0).toBe(0x55n); // the faulting load gave 0
    expect(r.arenaFaults.map((f) => [f.pc, f.kind, f.arenaOffset])).toEqual([[1, 'write', 0x1008], [2, 'read', 0x1010]]);
    expect(arena.pages()[0]!.bytes[8]).toBe(0x55);
    // The user view shows the same page.
    const user = engine.space.uc.memRead(arena.userVmStart + 8n, 1);
    expect(user[0]).toBe(0x55);
    engine.setArena(null);
    arena.dispose();
  });
});

describe('faults and limits leave the engine usable', () => {
  it('wild pointer: faulting instruction, access address and kind', () => {
    const code = asm('mov eax, 1; mov rcx, 0x1230; mov rdx, qword ptr [rcx + 8]; ret');
    engine.load([fn(code)]);
    const r = engine.run();
    expect(r.fault?.kind).toBe('read');
    expect(r.fault?.accessAddress).toBe(0x1238n);
    expect(r.fault?.x86Address).toBe(BASE + 12n);
    expect(r.fault?.exact).toBe(true);
    expect(r.fault?.message).toMatch(/read from unmapped address 0x1238 at insn 0/);
    goodRun();
  });

  it('stack overflow into the guard page', () => {
    engine.load([fn(asm('sub rsp, 0x8000; push rax; ret'))]);
    const r = engine.run();
    expect(r.fault?.kind).toBe('write');
    expect(r.fault?.message).toMatch(/stack overflow/);
    expect(r.fault?.x86Address).toBe(BASE + 7n);
    goodRun();
  });

  it('jump out of the image and into int3 padding', () => {
    engine.load([fn(asm('mov rax, 0x4000; jmp rax'))]);
    const r = engine.run();
    expect(r.fault?.kind).toBe('fetch');
    expect(r.fault?.accessAddress).toBe(0x4000n);
    goodRun();
    engine.load([fn(asm('jmp 0x20'))]);
    const r2 = engine.run();
    expect(r2.fault?.kind).toBe('trap');
    expect(r2.fault?.message).toMatch(/int3/);
    goodRun();
  });

  it('a divide error and an image placed over the engine\'s own pages are reported', () => {
    engine.load([fn(asm('mov eax, 7; xor ecx, ecx; div rcx; ret'))]);
    const r = engine.run();
    expect(r.fault?.kind).toBe('trap');
    expect(r.fault?.message).toMatch(/divide error/);
    expect(r.fault?.x86Text).toMatch(/^div rcx/);
    goodRun();
    expect(() => engine.load([fn(asm('ret'), LAYOUT.trampoline)])).toThrow(/cannot place the image: .*overlaps return trampoline/);
    goodRun();
  });

  it('runaway loop: wall-clock limit and instruction budget', () => {
    engine.load([fn(asm('l: add rax, 1; jmp l'))]);
    const t = engine.run({ timeoutMs: 100 });
    expect(t.fault?.kind).toBe('timeout');
    expect(t.fault?.message).toMatch(/100 ms/);
    const b = engine.run({ maxInsns: 1001 });
    expect(b.fault?.kind).toBe('insn-limit');
    expect(b.r0).toBe(501n); // exact: 1001 instructions = 501 adds
    const started = performance.now();
    goodRun();
    expect(performance.now() - started).toBeLessThan(2000); // no stale counting state
    engine.load([fn(asm('l: add rax, 1; jmp l'))]);
    expect(engine.run({ maxInsns: 11 }).r0).toBe(6n); // budgets stay exact on re-entry
  });

  it('random code: always a result or a report, never a crash or hang; the engine stays usable', () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed >> 16;
    };
    const kinds = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const bytes = Buffer.alloc(48);
      for (let b = 0; b < bytes.length; b++) bytes[b] = rnd() & 0xff;
      // Keep the valid prefix (the engine refuses invalid encodings), then return.
      const cut = firstInvalidInsn(bytes);
      const code = Buffer.concat([cut < 0 ? bytes : bytes.subarray(0, cut), Buffer.from([0xc3])]);
      if (cut >= 0) expect(() => engine.load([fn(bytes.toString('hex'))])).toThrow(/invalid x86 instruction/);
      engine.load([fn(code.toString('hex'))]);
      // rdi = context; random code may read/write it, the stack or anything else.
      const r = engine.run({ ctx: new Uint8Array(16), maxInsns: 5000, timeoutMs: 2000 });
      kinds.add(r.fault?.kind ?? 'none');
      if (r.fault) expect(r.fault.message.length).toBeGreaterThan(10);
    }
    expect(kinds.size).toBeGreaterThan(1);
    // ff e8 (far jmp with a register operand) would abort Unicorn 2.0.1: refused at load.
    expect(() => engine.load([fn('ffe8c3')])).toThrow(/byte offset 0: invalid x86 instruction/);
    goodRun();
  });

  it('helper without implementation: named, located at the call', () => {
    const target = engine.resolveCall('helper', 200);
    engine.load([fn(asm('push rbp; mov rbp, rsp') + callTo(BASE + 4n, target) + asm('leave; ret'))]);
    const r = engine.run();
    expect(r.fault?.kind).toBe('helper');
    expect(r.fault?.message).toMatch(/helper#200 is not implemented/);
    expect(r.fault?.x86Address).toBe(BASE + 4n);
    expect(() => engine.resolveCall('helper', 5000)).toThrow(/unknown helper id 5000/);
    goodRun();
    // A kernel-xlated call whose imm points where nothing is mapped: the call instruction is named.
    engine.load([fn(asm('push rbp; mov rbp, rsp') + callTo(BASE + 4n, engine.callBase + 0x40000000n) + asm('leave; ret'))]);
    const r2 = engine.run();
    expect(r2.fault?.kind).toBe('fetch');
    expect(r2.fault?.message).toMatch(/__bpf_call_base \+ 0x40000000\), where no helper, kfunc or function is at insn 0/);
    expect(r2.fault?.x86Address).toBe(BASE + 4n);
    goodRun();
  });
});
