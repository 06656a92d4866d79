// A printing loop cannot exhaust host memory: lines are cut at the kernel's 1023 characters
// (MAX_BPRINTF_BUF) and a run keeps at most PRINTK_MAX_LINES of them.
import { expect, test } from 'vitest';
import { DEFAULT_ENV } from '../../src/env.js';
import { Engine, compileFor } from '../../src/emu/index.js';
import { PRINTK_MAX_LINES } from '../../src/emu/helpers.js';
import { parseKernel } from '../../src/isa/parse.js';

test('20 000 printk calls with a 99 999-wide field', () => {
  // "%99999d\0" little-endian.
  const prog = parseKernel(`
    r6 = 0
  loop:
    r1 = 0x0064393939393925 ll
    *(u64 *)(r10 -8) = r1
    r1 = r10
    r1 += -8
    r2 = 8
    r3 = r6
    call bpf_trace_printk#6
    r6 += 1
    if r6 < 20000 goto loop
    r0 = 0
    exit`);
  const engine = new Engine();
  try {
    compileFor(engine, prog, { env: DEFAULT_ENV });
    const r = engine.run({ timeoutMs: 60_000 });
    expect(r.fault).toBeNull();
    expect(r.output.length).toBe(PRINTK_MAX_LINES + 1);
    expect(Math.max(...r.output.map((l) => l.length))).toBe(1023);
    expect(r.output[PRINTK_MAX_LINES]).toMatch(/more than 10000 printk lines/);
  } finally {
    engine.close();
  }
});
