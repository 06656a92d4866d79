// Host memory stays flat over many faulting runs: each run's arena faults (resolved by the exception table)
// and helper faults must not leave native memory, koffi handles or engine state behind.
import { describe, expect, test } from 'vitest';
import { EmuPath } from '../../src/fuzz/index.js';
import { parseEnv } from '../../src/env.js';
import { makeProgram } from '../../src/isa/insn.js';
import { AluOp, Class, JmpOp, LD_IMM64, Mode, Size, Src } from '../../src/isa/opcodes.js';

const MB = 1024 * 1024;
function usage(): { rss: number; external: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, external: m.external + m.arrayBuffers };
}

// r1 = &arena[0] (user address), cast to kernel; load from page 2 and store to page 1, both unallocated.
const arenaFaults = makeProgram([
  { code: LD_IMM64, dst: 1, src: 2, off: 0, imm: 0, imm2: 0 },
  { code: Class.ALU64 | AluOp.MOV | Src.X, dst: 1, src: 1, off: 1, imm: 1 },
  { code: Class.LDX | Mode.MEM | Size.DW, dst: 0, src: 1, off: 8192, imm: 0 },
  { code: Class.STX | Mode.MEM | Size.DW, dst: 1, src: 0, off: 4096, imm: 0 },
  { code: Class.ALU64 | AluOp.MOV | Src.K, dst: 0, src: 0, off: 0, imm: 7 },
  { code: Class.JMP | JmpOp.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
]);
// A helper the emulator does not implement: the run stops with a helper fault.
const helperFault = makeProgram([
  { code: Class.JMP | JmpOp.CALL, dst: 0, src: 0, off: 0, imm: 211 },
  { code: Class.JMP | JmpOp.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
]);

describe('host memory over 10 000 faulting runs', () => {
  test('arena faults (exception table) and helper faults: RSS and external memory stay flat', () => {
    // One engine per program: an engine holds one loaded program at a time.
    const emuA = new EmuPath();
    const emuH = new EmuPath();
    try {
      const a = emuA.prepare(arenaFaults, parseEnv({ arena: { pages: 4 } }));
      const h = emuH.prepare(helperFault, parseEnv({}));
      const round = (n: number): void => {
        for (let i = 0; i < n; i++) {
          const ra = a.run();
          if (ra.fault || ra.raw.arenaFaults.length !== 2 || ra.r0 !== 7n) throw new Error(`arena run ${i}: ${ra.faultMessage ?? ra.raw.arenaFaults.length}`);
          const rh = h.run();
          if (rh.fault !== 'helper') throw new Error(`helper run ${i}: ${rh.fault}`);
        }
      };
      round(500); // warm-up: JIT caches, lazily created buffers
      const before = usage();
      round(4500);
      const after = usage();
      console.log(`10 000 faulting runs: RSS ${((after.rss - before.rss) / MB).toFixed(1)} MB, external ${((after.external - before.external) / MB).toFixed(1)} MB after warm-up`);
      expect(after.rss - before.rss).toBeLessThan(40 * MB);
      expect(after.external - before.external).toBeLessThan(20 * MB);
      a.release();
      h.release();
    } finally {
      emuA.close();
      emuH.close();
    }
  }, 120_000);

  // OPEN (src/emu): a hard fault (unmapped read/write, trap) makes the engine rebuild its Unicorn instance,
  // and a load → run → unload → rebuild cycle keeps about 0.5 MB of native memory (measured: 1000 such runs
  // → +515 MB RSS; repeated runs of one loaded program that each fault grow ~75 KB per run; a rebuild without
  // a preceding run, or a bare uc_open/map_ptr/run/unmap/close loop, does not grow). RSS is too noisy to
  // assert that the leak is still there (a `test.fails` on it flaked), so this bounds it instead: 150 hard
  // faults may keep at most 120 MB (about 0.8 MB each, above the measured 0.25–0.5 MB), and the engine
  // must keep reporting the fault after every rebuild.
  test('hard faults (engine rebuilt after each): the engine keeps working and native memory stays bounded', () => {
    const emu = new EmuPath();
    try {
      const bad = makeProgram([
        { code: LD_IMM64, dst: 1, src: 0, off: 0, imm: 0, imm2: 0xdead },
        { code: Class.LDX | Mode.MEM | Size.DW, dst: 0, src: 1, off: 0, imm: 0 },
        { code: Class.JMP | JmpOp.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
      ]);
      const env = parseEnv({});
      for (let i = 0; i < 20; i++) emu.run(bad, env);
      const before = usage();
      for (let i = 0; i < 150; i++) if (emu.run(bad, env).fault !== 'memory') throw new Error('expected a memory fault');
      const after = usage();
      console.log(`150 hard faults (load, run, unload): RSS ${((after.rss - before.rss) / MB).toFixed(1)} MB`);
      expect(after.rss - before.rss).toBeLessThan(120 * MB);
    } finally {
      emu.close();
    }
  }, 120_000);
});
