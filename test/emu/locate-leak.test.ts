// locateFault decodes the faulting translation block with iced-x86, whose objects live in WebAssembly memory
// until freed (no finalizers): repeated faults must not grow that memory.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { locateFault } from '../../src/emu/locate.js';

const require = createRequire(import.meta.url);
const wasmBytes = (): number => (require('iced-x86') as { __wasm: { memory: { buffer: ArrayBuffer } } }).__wasm.memory.buffer.byteLength;

// mov rax, [rdi+8]; mov [rsi], rax; add qword ptr [rdx+rcx*8+16], 1; ret
const CODE = Uint8Array.from([0x48, 0x8b, 0x47, 0x08, 0x48, 0x89, 0x06, 0x48, 0x83, 0x44, 0xca, 0x10, 0x01, 0xc3]);
const regs = (r: number): bigint => BigInt(0x1000 * (r + 1));

describe('locateFault frees what iced-x86 allocates', () => {
  it('finds the instruction (early return) and the block start (no match) as before', () => {
    // rsi = reg 6 → 0x7000: the store is the second instruction, at blockStart + 4
    expect(locateFault(CODE, 0x5000n, 0x7000n, regs, 0n)).toEqual({ address: 0x5004n, text: 'mov [rsi],rax', exact: true });
    expect(locateFault(CODE, 0x5000n, 0xdead0000n, regs, 0n)).toEqual({ address: 0x5000n, text: '', exact: false });
  });
  it('20 000 located faults leave the WebAssembly memory as it was', () => {
    for (let i = 0; i < 2000; i++) locateFault(CODE, 0x5000n, i % 2 ? 0x7000n : 0xdead0000n, regs, 0n); // warm-up
    const before = wasmBytes();
    for (let i = 0; i < 20_000; i++) locateFault(CODE, 0x5000n, i % 2 ? 0x7000n : 0xdead0000n, regs, 0n);
    expect(wasmBytes() - before).toBeLessThan(256 * 1024);
  });
});
