// The JIT + Unicorn pipeline as a conformance engine: front end (verifier rewrites) → x86-64 JIT →
// emulated CPU, as `bpfjit run` does. The input memory is the context (r1); the emulator does not set r2,
// so the program gets one extra first instruction `r2 = len` (messages are renumbered back).
import { BpfError, formatDiagnostic } from '../errors.js';
import { decode } from '../isa/codec.js';
import { makeProgram, type Program } from '../isa/insn.js';
import { validate } from '../isa/validate.js';
import { DEFAULT_ENV } from '../env.js';
import { Engine, compileFor } from '../emu/index.js';
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

function runOnce(bytecode: Uint8Array, mem: Uint8Array): EngineResult {
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
    compileFor(engine, withLength(original, mem.length), { env: DEFAULT_ENV });
    const r = engine.run({ ctx: mem });
    if (r.fault) return { ok: false, error: renumber(r.fault.message) };
    return { ok: true, r0: BigInt.asUintN(64, r.r0) };
  } finally {
    engine.close();
  }
}

export function createConformanceEngine(): ConformanceEngine {
  return {
    name: 'unicorn',
    groups: DEFAULT_GROUPS,
    run(bytecode, mem) {
      try {
        return runOnce(bytecode, mem);
      } catch (e) {
        if (e instanceof BpfError) return { ok: false, error: renumber(formatDiagnostic(e.diagnostics[0]!)) };
        throw e;
      }
    },
  };
}
