// Parity on a second kernel build (linux 6.18.44-fc-v657, which returns through the SRSO return
// thunk) for clang-compiled programs: the images and stack depths that kernel produced, recorded in
// fixtures/clang-live.json (sources in fixtures/clang-live.bpf.c and clang-live-arena.bpf.c, the latter
// loaded through src/loader: arena globals, signed arena loads, arena atomics, a subprogram). The build is recognised by its call
// base, so no thunk option is passed here.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { decode } from '../../src/isa/codec.js';
import { jit, jitImage, knownKernel } from '../../src/jit/index.js';

interface LiveRecord {
  name: string;
  xlated_resolved: string;
  jited: string;
  ksyms: string[];
  call_base: string;
  stack_depths: number[];
  return_thunk: string | null;
  kern_vm_start?: string | null;
  user_vm_start?: string | null;
}

const records = JSON.parse(readFileSync(new URL('./fixtures/clang-live.json', import.meta.url), 'utf8')) as LiveRecord[];

describe('clang-compiled programs on linux 6.18.44 (return thunk)', () => {
  test.each(records.map((r) => [r.name, r] as const))('%s', (_n, r) => {
    const prog = decode(new Uint8Array(Buffer.from(r.xlated_resolved, 'hex')));
    const arena = r.kern_vm_start ? { kernVmStart: BigInt(r.kern_vm_start), userVmStart: BigInt(r.user_vm_start!) } : {};
    const res = jit(prog, { imageBase: r.ksyms.map((s) => BigInt(s)), callBase: BigInt(r.call_base), ...arena });
    expect(res.functions.map((f) => f.stackDepth)).toEqual(r.stack_depths.map((d) => (d + 7) & ~7));
    expect(Buffer.from(jitImage(res)).toString('hex')).toBe(r.jited);
  });

  test('the build is known by its call base and returns through its thunk', () => {
    const r = records[0]!;
    expect(knownKernel(BigInt(r.call_base))?.returnThunk).toBe(BigInt(r.return_thunk!));
  });

  test('returnThunk 0n forces a plain ret; another thunk is a jmp rel32 to it', () => {
    const prog = decode(new Uint8Array(Buffer.from('b7000000000000009500000000000000', 'hex')));
    const base = 0xffffffffc0000000n;
    const plain = jit(prog, { imageBase: [base], returnThunk: 0n }).functions[0]!;
    expect(Buffer.from(plain.image).toString('hex').endsWith('c9c3')).toBe(true);
    const thunk = jit(prog, { imageBase: [base], returnThunk: 0xffffffff81000000n }).functions[0]!;
    const img = Buffer.from(thunk.image);
    expect(img[img.length - 5]).toBe(0xe9);
    expect(base + BigInt(img.length) + BigInt(img.readInt32LE(img.length - 4))).toBe(0xffffffff81000000n);
  });
});

// Tail calls (socket-filter programs with a prog array, loaded on the same kernel): the raw xlated dump
// (tail call as `call 12`, bpf-to-bpf call as off = offset / imm = subprogram index) with the map
// pointer written into its ld_imm64, and the kernel's image. Direct (constant key) and indirect
// (retpoline thunk) forms, stack and callee-saved unwinding, the counter pointer before a call.
interface TailRecord {
  name: string;
  xlated: string;
  jited: string;
  ksyms: string[];
  call_base: string;
}
const tailRecords = JSON.parse(readFileSync(new URL('./fixtures/tailcall-live.json', import.meta.url), 'utf8')) as TailRecord[];

describe('tail calls on linux 6.18.44', () => {
  test.each(tailRecords.map((r) => [r.name, r] as const))('%s', (_n, r) => {
    const prog = decode(new Uint8Array(Buffer.from(r.xlated, 'hex')));
    const res = jit(prog, { imageBase: r.ksyms.map((s) => BigInt(s)), callBase: BigInt(r.call_base) });
    expect(Buffer.from(jitImage(res)).toString('hex')).toBe(r.jited);
  });
});
