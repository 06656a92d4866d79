// src/fuzz — corruption fuzzing of every entry point: random bytes, truncated and bit-flipped bytecode,
// corrupted ELF objects and broken assembler text go through decode, validate, parse, the front end, the JIT,
// the loader and a full run. Each must return or throw a BpfError whose message names its location
// (`insn N:`, `byte offset N:`, `line N:`); any other exception, or a located-less message, is a failure.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError } from '../errors.js';
import { parseEnv, type RunEnv } from '../env.js';
import { decode, encode } from '../isa/codec.js';
import type { Program } from '../isa/insn.js';
import { parse } from '../isa/parse.js';
import { printProgram } from '../isa/print.js';
import { validate } from '../isa/validate.js';
import { jit } from '../jit/index.js';
import { loadObject, programEnv } from '../loader/index.js';
import { Rng, generate } from '../kernel/gen.js';
import { EmuPath } from './pipeline.js';

export type Format = 'bytecode' | 'elf' | 'asm' | 'env';

export interface CorruptionFailure {
  readonly format: Format;
  readonly stage: string;
  /** Exception type and message, or the unlocated message. */
  readonly detail: string;
  /** The input, hex (bytes) or text, for reproduction. */
  readonly input: string;
}

export interface CorruptionStats {
  perFormat: Record<Format, number>;
  /** Inputs some stage accepted all the way (a result rather than an error). */
  accepted: number;
  /** BpfError messages without a location, by message shape (not failures: whole-input problems). */
  unlocated: Record<string, number>;
  failures: CorruptionFailure[];
  seconds: number;
}

/** A message that names where: `insn N`, `byte offset N` or `line N` (possibly after a function/file name). */
const LOCATED = /\b(insn|byte offset|line) \d+\b/;

/** Bit flips, byte overwrites, truncation, splices, repeated blocks. */
export function corruptBytes(src: Uint8Array, r: Rng): Uint8Array {
  let b: Uint8Array = Uint8Array.from(src);
  const k = r.int(0, 5);
  if (k === 0 && b.length > 0) {
    for (let n = r.int(1, 8); n > 0; n--) b[r.int(0, b.length - 1)]! ^= 1 << r.int(0, 7);
  } else if (k === 1 && b.length > 0) {
    for (let n = r.int(1, 8); n > 0; n--) b[r.int(0, b.length - 1)] = r.pick([0, 0xff, 0x7f, 0x80, r.u32() & 0xff]);
  } else if (k === 2) {
    b = b.slice(0, r.int(0, b.length));
  } else if (k === 3 && b.length > 8) {
    const at = r.int(0, b.length - 8);
    const n = r.int(1, Math.min(64, b.length - at));
    const junk = r.bytes(n);
    b.set(junk, at);
  } else if (k === 4 && b.length > 0) {
    // Overwrite a 4- or 8-byte field with an extreme value (ELF offsets/sizes, immediates).
    const at = r.int(0, Math.max(0, b.length - 8));
    const v = r.pick([0xffffffffn, 0x80000000n, 0xffffffffffffffffn, 0n, 0x7fffffffffffffffn, BigInt(b.length), BigInt(b.length + 1)]);
    const dv = new DataView(b.buffer);
    if (at + 8 <= b.length && r.chance(0.5)) dv.setBigUint64(at, v, true);
    else if (at + 4 <= b.length) dv.setUint32(at, Number(v & 0xffffffffn), true);
  } else {
    b = r.bytes(r.int(0, 256));
  }
  return b;
}

/** Broken assembler text: deleted/duplicated/swapped lines, character edits, junk tokens. */
export function corruptText(src: string, r: Rng): string {
  const lines = src.split('\n');
  for (let n = r.int(1, 4); n > 0; n--) {
    const i = r.int(0, Math.max(0, lines.length - 1));
    const line = lines[i] ?? '';
    switch (r.int(0, 6)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, line);
        break;
      case 2: {
        const at = r.int(0, line.length);
        lines[i] = line.slice(0, at) + line.slice(at + r.int(1, 4));
        break;
      }
      case 3: {
        const at = r.int(0, line.length);
        lines[i] = line.slice(0, at) + r.pick(['r11', 'r99', '+', '-', '0x', '99999999999999999999', 'goto', 'pc+', ':', '(', ')', '*(u64 *)', '\0', '\u00e9', ' ll', 'call', 'lbl:', '=']) + line.slice(at);
        break;
      }
      case 4:
        lines[i] = line.replace(/-?\d+/, () => r.pick(['-1', '4294967296', '0x8000000000000000', '65536', '-32769', '1e3', '']));
        break;
      case 5:
        lines[i] = line.replace(/r\d+/, () => `r${r.int(0, 15)}`);
        break;
      default:
        lines.splice(i, 0, Buffer.from(r.bytes(r.int(1, 20))).toString('latin1'));
    }
  }
  return lines.join('\n');
}

interface Outcome {
  readonly ok: boolean;
  readonly failure?: { stage: string; detail: string };
  readonly unlocated?: string;
}

/** Runs `f`; a BpfError is fine when located, anything else is a failure of `stage`. */
function guard<T>(stage: string, f: () => T): { value?: T; out?: Outcome } {
  try {
    return { value: f() };
  } catch (e) {
    if (e instanceof BpfError) {
      const msg = e.message;
      return { out: LOCATED.test(msg) ? { ok: false } : { ok: false, unlocated: `${stage}: ${msg.replace(/\d+/g, 'N').replace(/0x[0-9a-f]+/gi, 'X').slice(0, 120)}` } };
    }
    const err = e as Error;
    return { out: { ok: false, failure: { stage, detail: `${err?.name ?? typeof e}: ${err?.message ?? String(e)}` } } };
  }
}

/** A program through validate → front end → JIT → run (the Unicorn path). */
function throughPipeline(emu: EmuPath, prog: Program, env: RunEnv): Outcome {
  const v = guard('validate', () => validate(prog, 'standard'));
  if (v.out) return v.out;
  // The JIT on the program taken as kernel-xlated (it must refuse what it cannot lower, not crash).
  const j = guard('jit', () => jit(prog));
  if (j.out?.failure) return j.out;
  const run = guard('run', () => emu.run(prog, env, { timeoutMs: 200, maxInsns: 100_000 }));
  return run.out ?? { ok: true };
}

export interface CorruptionOptions {
  readonly seconds: number;
  readonly seed: number;
  /** ELF objects (*.o) to corrupt. */
  readonly examplesDir?: string;
  /** Corpus programs (*.bin) as bytecode seeds. */
  readonly corpusDirs?: readonly string[];
  /** Stop each format after this many inputs. */
  readonly maxPerFormat?: number;
}

export function corruptionFuzz(o: CorruptionOptions): CorruptionStats {
  const r = new Rng(o.seed ^ 0x0badc0de);
  const elfs = o.examplesDir && existsSync(o.examplesDir) ? readdirSync(o.examplesDir).filter((f) => f.endsWith('.o')).map((f) => new Uint8Array(readFileSync(join(o.examplesDir!, f)))) : [];
  const bins: Uint8Array[] = [];
  for (const d of o.corpusDirs ?? []) if (existsSync(d)) for (const f of readdirSync(d).filter((x) => x.endsWith('.bin')).slice(0, 50)) bins.push(new Uint8Array(readFileSync(join(d, f))));
  for (let i = 0; i < 20; i++) bins.push(encode(generate({ seed: o.seed, index: i }).prog));
  const texts = bins.slice(-20).map((b) => printProgram(decode(b)));
  const envs = Array.from({ length: 5 }, (_, i) => generate({ seed: o.seed, index: 100 + i }).env);
  const s: CorruptionStats = { perFormat: { bytecode: 0, elf: 0, asm: 0, env: 0 }, accepted: 0, unlocated: {}, failures: [], seconds: 0 };
  const emu = new EmuPath(500);
  const formats: Format[] = elfs.length ? ['bytecode', 'elf', 'asm', 'env'] : ['bytecode', 'asm', 'env'];
  const t0 = Date.now();
  const record = (format: Format, input: string, out: Outcome): void => {
    s.perFormat[format]++;
    if (out.ok) s.accepted++;
    if (out.unlocated) s.unlocated[out.unlocated] = (s.unlocated[out.unlocated] ?? 0) + 1;
    if (out.failure) s.failures.push({ format, ...out.failure, input: input.slice(0, 20000) });
  };
  try {
    for (let i = 0; (Date.now() - t0) / 1000 < o.seconds; i++) {
      const format = formats[i % formats.length]!;
      if (o.maxPerFormat !== undefined && s.perFormat[format] >= o.maxPerFormat) {
        if (formats.every((f) => s.perFormat[f] >= o.maxPerFormat!)) break;
        continue;
      }
      const env = r.pick(envs);
      if (format === 'bytecode') {
        const bytes = corruptBytes(r.pick(bins), r);
        const d = guard('decode', () => decode(bytes));
        record(format, Buffer.from(bytes).toString('hex'), d.out ?? throughPipeline(emu, d.value!, env));
      } else if (format === 'asm') {
        const text = corruptText(r.pick(texts), r);
        const p = guard('parse', () => parse(text));
        record(format, text, p.out ?? throughPipeline(emu, p.value!, env));
      } else if (format === 'elf') {
        const bytes = corruptBytes(r.pick(elfs), r);
        const l = guard('loader', () => loadObject(bytes));
        let out: Outcome = l.out ?? { ok: true };
        if (!l.out) {
          const obj = l.value!;
          const prog = obj.programs.length ? r.pick(obj.programs) : null;
          if (prog) {
            const pr = guard('programEnv', () => programEnv(obj, prog));
            out = pr.out ?? throughPipeline(emu, pr.value!.program, pr.value!.env);
          }
        }
        record(format, Buffer.from(bytes).toString('hex'), out);
      } else {
        const json = JSON.stringify({ ...env, arena: env.arena ? { ...env.arena, map_extra: env.arena.map_extra.toString() } : null });
        const text = corruptText(json.replace(/,/g, ',\n'), r).replace(/\n/g, '');
        const p = guard('env', () => parseEnv(JSON.parse(text)));
        let out: Outcome = p.out ?? { ok: true };
        // JSON.parse's SyntaxError is the caller's to wrap (cli/run.ts does): only parseEnv is under test.
        if (out.failure && /^SyntaxError: .*JSON/s.test(out.failure.detail) && !/BigInt/.test(out.failure.detail)) out = { ok: false };
        if (!p.out) out = throughPipeline(emu, generate({ seed: o.seed, index: i }).prog, p.value!);
        record(format, text, out);
      }
    }
  } finally {
    emu.close();
  }
  s.seconds = (Date.now() - t0) / 1000;
  return s;
}
