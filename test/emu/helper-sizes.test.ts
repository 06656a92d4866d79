// Helpers whose sizes come from the program (bpf_probe_read_kernel[_str], bpf_get_current_comm, bpf_strtol/ul):
// a size larger than any region the verifier lets a program pass (KMALLOC_MAX_SIZE) stops the run with a helper
// fault instead of a host allocation, identically in the emulator and the interpreter; the results the kernel
// defines (-ERANGE for user addresses, string truncation, -EINVAL) agree with the running kernel where bpf() is
// permitted.
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from '../../src/isa/parse.js';
import { encode } from '../../src/isa/codec.js';
import type { RunEnv } from '../../src/env.js';
import { Engine, compileFor } from '../../src/emu/index.js';
import { HELPER_MEM_MAX as EMU_MAX } from '../../src/emu/helpers.js';
import { HELPER_MEM_MAX as INTERP_MAX, interpret, optionsFromEnv, LINUX_HELPERS } from '../../src/interp/index.js';
import { bpfAvailability, runInKernel } from '../../src/kernel/index.js';

const ENV: RunEnv = { arena: null, kfuncs: {}, prefault: {}, ctx: '00'.repeat(32) };

interface Outcome {
  readonly fault: string | null;
  readonly r0: bigint;
  readonly ctx: string;
}

const engine = new Engine();
afterAll(() => engine.close());

function emu(text: string): Outcome {
  compileFor(engine, parse(text), { env: ENV });
  const r = engine.run({ ctx: new Uint8Array(32) });
  return { fault: r.fault ? `${r.fault.kind}: ${r.fault.message}` : null, r0: r.fault ? 0n : r.r0, ctx: Buffer.from(r.ctx).toString('hex') };
}

function interp(text: string): Outcome {
  const res = interpret(parse(text), { ...optionsFromEnv(ENV), helpers: LINUX_HELPERS });
  return { fault: res.fault ? res.fault.message : null, r0: res.r0, ctx: Buffer.from(res.ctx!).toString('hex') };
}

/** r9 = ctx; the helper's result goes to r0 and ctx[0..8); the 8 bytes at r10-8 to ctx[8..16). */
const prog = (body: string): string =>
  `\tr9 = r1\n\tr1 = 0\n\t*(u64 *)(r10 -8) = r1\n\t*(u64 *)(r10 -16) = r1\n\t*(u64 *)(r10 -24) = r1\n${body}\n` +
  '\t*(u64 *)(r9 +0) = r0\n\tr1 = *(u64 *)(r10 -8)\n\t*(u64 *)(r9 +8) = r1\n\texit';

const PROBE = (size: string, src: string, str = false): string =>
  prog(`\tr1 = r10\n\tr1 += -8\n\tr2 = ${size}\n\t${src}\n\tcall bpf_probe_read_kernel${str ? '_str#115' : '#113'}`);

describe('sizes beyond any region stop the run in both engines, without a host allocation', () => {
  const huge: [string, string][] = [
    ['bpf_probe_read_kernel', PROBE('0xffffffff ll', 'r3 = r10\n\tr3 += -16')],
    ['bpf_probe_read_kernel_str', PROBE('0xffffffff ll', 'r3 = r10\n\tr3 += -16', true)],
    ['bpf_get_current_comm', prog('\tr1 = r10\n\tr1 += -8\n\tr2 = 0xffffffff ll\n\tcall bpf_get_current_comm#16')],
    ['bpf_strtol', prog('\tr1 = r10\n\tr1 += -8\n\tr2 = 0x10000000000 ll\n\tr3 = 0\n\tr4 = r10\n\tr4 += -16\n\tcall bpf_strtol#105')],
    ['bpf_strtoul', prog('\tr1 = r10\n\tr1 += -8\n\tr2 = 0x400001 ll\n\tr3 = 0\n\tr4 = r10\n\tr4 += -16\n\tcall bpf_strtoul#106')],
  ];
  it('the two engines use the same bound: KMALLOC_MAX_SIZE', () => {
    expect(EMU_MAX).toBe(4 * 1024 * 1024);
    expect(INTERP_MAX).toBe(EMU_MAX);
  });
  for (const [name, text] of huge) {
    it(name, () => {
      const before = process.memoryUsage().rss;
      const e = emu(text);
      const i = interp(text);
      expect(e.fault).toMatch(new RegExp(`^helper: ${name}#\\d+: size \\d+ is larger than any memory region`));
      expect(i.fault).toMatch(new RegExp(`^helper ${name}#\\d+: size \\d+ is larger than any memory region`));
      expect(e.fault!.replace(/^helper: /, '').replace(/ at insn \d+ .*$/, '')).toBe(i.fault!.replace(/^helper /, ''));
      expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
    });
  }
});

/** Programs with a defined result: both engines agree (and the kernel, below). */
const DEFINED: [string, string][] = [
  ['probe_read_kernel from a user address (a 32-bit arena pointer): -ERANGE, dst cleared', PROBE('8', 'r3 = 4096')],
  ['probe_read_kernel_str from a user address: -ERANGE', PROBE('8', 'r3 = 4096', true)],
  ['probe_read_kernel with size 0 from a user address: -ERANGE', PROBE('0', 'r3 = 4096')],
  ['probe_read_kernel_str with size 0: 0', PROBE('0', 'r3 = 4096', true)],
  [
    'probe_read_kernel_str truncates at size, the last byte read becoming NUL',
    prog('\tr1 = 0x6a69686766656463 ll\n\t*(u64 *)(r10 -24) = r1\n\t*(u64 *)(r10 -16) = r1\n\tr1 = r10\n\tr1 += -8\n\tr2 = 8\n\tr3 = r10\n\tr3 += -24\n\tcall bpf_probe_read_kernel_str#115'),
  ],
  ['probe_read_kernel of the stack', prog('\tr1 = 0x1122334455667788 ll\n\t*(u64 *)(r10 -16) = r1\n\tr1 = r10\n\tr1 += -8\n\tr2 = 8\n\tr3 = r10\n\tr3 += -16\n\tcall bpf_probe_read_kernel#113')],
  ['bpf_strtol with a NULL buffer: -EINVAL', prog('\tr1 = 0\n\tr2 = 4\n\tr3 = 0\n\tr4 = r10\n\tr4 += -16\n\tcall bpf_strtol#105')],
];

/** bpf_strtol/strtoul on `text` (at most 88 bytes, on the stack) with `flags`: r0 and *res go to the context. */
function strtoProg(text: string, flags: number, unsigned = false): string {
  const bytes = Buffer.concat([Buffer.from(text, 'latin1'), Buffer.alloc(88)]).subarray(0, 88);
  const lines: string[] = [];
  for (let k = 0; k < 88; k += 8) lines.push(`\tr1 = 0x${bytes.readBigUInt64LE(k).toString(16)} ll`, `\t*(u64 *)(r10 ${k - 104}) = r1`);
  lines.push('\tr1 = r10', '\tr1 += -104', `\tr2 = ${text.length}`, `\tr3 = ${flags}`, '\tr4 = r10', '\tr4 += -8');
  lines.push(unsigned ? '\tcall bpf_strtoul#106' : '\tcall bpf_strtol#105');
  return prog(lines.join('\n'));
}
const STRTO: [string, number, boolean?][] = [
  [' \t-42xyz', 0], ['0x1f', 0], ['0x1f', 16], ['0xg', 16], ['0xg', 0], ['0777', 0], ['0777', 10], ['\xa0 12', 10],
  [`${'0'.repeat(70)}1`, 10], ['99999999999999999999', 10], ['-9223372036854775808', 10], ['9223372036854775808', 10],
  ['18446744073709551615', 10, true], ['-5', 10, true], ['   ', 10], ['-', 10], ['12\u00003', 10],
];

describe('defined results are the same in both engines', () => {
  for (const [text, flags, unsigned] of STRTO) {
    it(`bpf_strto${unsigned ? 'ul' : 'l'}(${JSON.stringify(text)}, base flags ${flags})`, () => {
      const p = strtoProg(text, flags, unsigned);
      const e = emu(p);
      expect(e.fault).toBeNull();
      expect(interp(p)).toEqual(e);
    });
  }
  for (const [name, text] of DEFINED) {
    it(name, () => {
      const e = emu(text);
      expect(e.fault).toBeNull();
      expect(interp(text)).toEqual(e);
    });
  }
  it('the size bound itself: 4 MiB onto the 512-byte stack is -EFAULT in both (nothing written)', () => {
    const text = PROBE(String(4 * 1024 * 1024), 'r3 = r10\n\tr3 += -16');
    const e = emu(text);
    expect(e.fault).toBeNull();
    expect(BigInt.asIntN(64, e.r0)).toBe(-14n);
    expect(interp(text)).toEqual(e);
  });
});

const avail = bpfAvailability();
const describeLive = avail.ok ? describe : describe.skip;
if (!avail.ok) console.log(`helper results vs the kernel skipped: bpf() unavailable (${avail.reason})`);

describeLive('the running kernel gives the same results', () => {
  // The kernel refuses what the verifier cannot bound (size 0 to probe_read_kernel is fine; NULL to strtol is not).
  for (const [text, flags, unsigned] of STRTO) {
    it(`bpf_strto${unsigned ? 'ul' : 'l'}(${JSON.stringify(text)}, base flags ${flags})`, () => {
      const p = strtoProg(text, flags, unsigned);
      const k = runInKernel(encode(parse(p)), ENV, { run: true }).record as unknown as { retval: number; ctx_out: string };
      const e = emu(p);
      expect(k.retval >>> 0).toBe(Number(e.r0 & 0xffffffffn));
      expect(k.ctx_out).toBe(e.ctx);
    });
  }
  for (const [name, text] of DEFINED.filter(([n]) => !n.includes('NULL'))) {
    it(name, () => {
      const k = runInKernel(encode(parse(text)), ENV, { run: true });
      const e = emu(text);
      const result = k.record as unknown as { retval: number; ctx_out: string };
      expect(result.retval >>> 0).toBe(Number(e.r0 & 0xffffffffn));
      expect(result.ctx_out).toBe(e.ctx);
    });
  }
});
