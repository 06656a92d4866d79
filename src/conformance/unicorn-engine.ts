// The JIT + Unicorn pipeline as a conformance engine: front end (verifier rewrites) → x86-64 JIT →
// emulated CPU, as `bpfjit run` does. The input memory is the context (r1); the emulator does not set r2,
// so the program gets one extra first instruction `r2 = len` (messages are renumbered back).
import { BpfError, formatDiagnostic } from '../errors.js';
import { decode } from '../isa/codec.js';
import { makeProgram, type Program } from '../isa/insn.js';
import { validate } from '../isa/validate.js';
import { DEFAULT_ENV } from '../env.js';
import { Engine, compileFor, type Compiled, type TraceStep } from '../emu/index.js';
import type { ConformanceEngine, EngineResult } from './engine.js';
import { DEFAULT_GROUPS } from './requirements.js';

/** Shifts `insn N` in a message back by the one instruction we prepended. */
function renumber(message: string): string {
  return message.replace(/\binsn (\d+)/g, (_m, n: string) => `insn ${Math.max(0, Number(n) - 1)}`);
}

function withLength(prog: Program, length: number): Program {
  const mov = { code: 0xb7, dst: 2, src: 0, off: 0, imm: length | 0 };
  return makeProgram([mov, ...prog.insns.map(({ pc: _pc, ...rest }) => rest)]);
}

/** Views into the pipeline for debugging (the plugin's --debug): called as each stage finishes. */
export interface UnicornEngineHooks {
  /** After the front end and the JIT, with the engine the image is loaded on. */
  readonly compiled?: (engine: Engine, compiled: Compiled, original: Program) => void;
  /** Each executed BPF instruction (trace mode). */
  readonly trace?: (step: TraceStep) => void;
}

function runOnce(bytecode: Uint8Array, mem: Uint8Array, hooks: UnicornEngineHooks): EngineResult {
  const original = decode(bytecode);
  const problems = validate(original, 'standard');
  if (problems.length > 0) return { ok: false, error: formatDiagnostic(problems[0]!) };
  let engine: Engine;
  try {
    // One run per process (the plugin): Unicorn's own timer is cheaper than starting the watchdog thread.
    engine = new Engine({ timer: 'unicorn' });
  } catch (e) {
    return { ok: false, error: `the unicorn engine cannot start: ${(e as Error).message}` };
  }
  try {
    const prog = withLength(original, mem.length);
    const compiled = compileFor(engine, prog, { env: DEFAULT_ENV });
    hooks.compiled?.(engine, compiled, prog);
    const r = engine.run({ ctx: mem, ...(hooks.trace ? { trace: hooks.trace } : {}) });
    if (r.fault) return { ok: false, error: renumber(r.fault.message) };
    return { ok: true, r0: BigInt.asUintN(64, r.r0) };
  } finally {
    engine.close();
  }
}

export function createConformanceEngine(hooks: UnicornEngineHooks = {}): ConformanceEngine {
  return {
    name: 'unicorn',
    groups: DEFAULT_GROUPS,
    run(bytecode, mem) {
      try {
        return runOnce(bytecode, mem, hooks);
      } catch (e) {
        if (e instanceof BpfError) return { ok: false, error: renumber(formatDiagnostic(e.diagnostics[0]!)) };
        throw e;
      }
    },
  };
}
