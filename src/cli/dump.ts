// `bpfjit dump`: each BPF instruction next to the x86-64 the JIT made of it.
import { Engine, compileFor, type Compiled } from '../emu/index.js';
import { jit } from '../jit/index.js';
import { sourceLineAt, type BpfProgram } from '../loader/index.js';
import type { Program } from '../isa/insn.js';
import type { JitResult } from '../jit/types.js';
import { Exit, parseCommandArgs, type Command } from './command.js';
import { optionsFrom, readProg } from './jit.js';
import { buildListing, renderListing, type ListingFunction, type ListingOptions } from './listing.js';
import { PROGRAM_INPUT_HELP, PROGRAM_INPUT_OPTIONS, readRunInput } from './program-input.js';

const HELP = `Usage: bpfjit dump PROG [options] [--json]
       bpfjit dump PROG --dialect kernel-xlated --image-base A[,B..] --call-base C [...]

Shows every BPF instruction (index and kernel syntax) followed by the x86-64 instructions the JIT
emitted for it (image offset, bytes, Intel syntax), like 'bpftool prog dump jited linum' but readable:
branch and call targets are named as BPF instruction numbers, functions, helpers and kfuncs; the
prologue's arena base (r12 = kern_vm_start) is marked; every arena access shows its exception-table
fix-up (the register zeroed on a fault, 'store dropped', or registers unchanged for atomics, and where
execution resumes); the cast-to-user sequence is explained; C source lines are shown for ELF objects
compiled with -g.

PROG is compiled exactly as 'bpfjit run' compiles it (the verifier's rewrites, then the JIT at the
emulator's addresses), so the listing is the code that runs. The listed instructions are the rewritten
(xlated) program.
${PROGRAM_INPUT_HELP}
  --json               the listing as JSON (functions → instructions → x86 lines)

With --image-base or --call-base, PROG must be kernel-xlated and is JITted at exactly those addresses
(the other 'bpfjit jit' options apply: --kern-vm-start, --user-vm-start, --no-bmi2, --stack-depth,
--this-cpu-off, --return-thunk, --function-starts, --hex HEX), e.g. to read a kernel corpus image.`;

/** Listing of a kernel-xlated program at explicit addresses (the `bpfjit jit` options). */
function atAddresses(values: Parameters<typeof optionsFrom>[0], positionals: string[]): { prog: Program; result: JitResult } {
  const prog = readProg(values, positionals);
  return { prog, result: jit(prog, optionsFrom(values)) };
}

/**
 * Listing of what compileFor() made: calls named from the engine's helper/kfunc table, C lines from the
 * object's line info (they belong to the original program, so only when the front end removed no code).
 */
export function pipelineListing(engine: Engine, compiled: Compiled, original: Program, object?: BpfProgram): ListingFunction[] {
  const opts: ListingOptions = {
    symbol: (addr) => engine.symbolAt(addr),
    print: {
      dialect: 'kernel-xlated',
      callName: (insn) => (insn.src === 1 ? undefined : engine.symbolAt(engine.callBase + BigInt(insn.imm))?.replace(/#\d+$/, '')),
    },
    ...(object && compiled.xlated.slots === original.slots
      ? {
          sourceLine: (pc: number) => {
            const l = sourceLineAt(object, pc);
            return l ? `${l.file}:${l.line}: ${l.text.trim()}` : undefined;
          },
        }
      : {}),
  };
  return buildListing(compiled.xlated, compiled.result, opts);
}

export const dumpCmd: Command = {
  name: 'dump',
  help: HELP,
  run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...PROGRAM_INPUT_OPTIONS,
      hex: { type: 'string' },
      'image-base': { type: 'string' },
      'call-base': { type: 'string' },
      'no-bmi2': { type: 'boolean' },
      'stack-depth': { type: 'string' },
      'this-cpu-off': { type: 'string' },
      'return-thunk': { type: 'string' },
      'function-starts': { type: 'string' },
      'no-validate': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const explicit = ['image-base', 'call-base', 'hex'].some((k) => values[k] !== undefined);
    let listing: ListingFunction[];
    if (explicit) {
      const { prog, result } = atAddresses(values, positionals);
      listing = buildListing(prog, result);
    } else {
      const { input, prog, compile } = readRunInput(values, positionals);
      const engine = new Engine();
      try {
        const compiled = compileFor(engine, prog, compile);
        compiled.arena?.dispose();
        listing = pipelineListing(engine, compiled, prog, input.object?.program);
      } finally {
        engine.close();
      }
    }
    process.stdout.write(values.json === true ? `${JSON.stringify({ functions: listing }, null, 1)}\n` : renderListing(listing));
    return Exit.OK;
  },
};
