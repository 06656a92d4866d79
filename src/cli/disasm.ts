// `bpfjit disasm`: prints a program in the kernel's verifier-log syntax (`N: (op) text`), which `asm` reads back.
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { parseEnv } from '../env.js';
import type { Insn } from '../isa/insn.js';
import { helperId } from '../isa/helpers.js';
import { printProgram } from '../isa/print.js';
import { dialectOption } from './asm.js';
import { Exit, parseCommandArgs, type Command } from './command.js';
import { MAX_PROG_INSNS_HELP, MAX_PROG_INSNS_OPTION, maxSlotsOption, readProgram } from './input.js';

/** kfunc names of a sidecar/ENV.json (call imm "0x101" → name), for naming src_reg 2 calls. */
function sidecarKfuncs(path: string | undefined): ((insn: Insn) => string | undefined) | undefined {
  if (path === undefined) return undefined;
  let kfuncs: Readonly<Record<string, string>>;
  try {
    kfuncs = parseEnv(JSON.parse(readFileSync(path, 'utf8')), path).kfuncs;
  } catch {
    return undefined; // a broken sidecar only costs the names
  }
  // Only names that cannot be read as a helper keep the text unambiguous (asm treats other names as kfuncs).
  const byImm = new Map(
    Object.entries(kfuncs)
      .filter(([, v]) => /^[\w.$-]+$/.test(v) && v !== 'unknown' && helperId(v) === undefined)
      .map(([k, v]) => [Number(k) | 0, v]),
  );
  return (insn) => (insn.src === 2 ? byImm.get(insn.imm) : undefined);
}

export const disasm: Command = {
  name: 'disasm',
  help: `Usage: bpfjit disasm FILE [--dialect standard|kernel-xlated] [--no-validate]

Prints one line per instruction as the kernel's verifier log does: 'N: (op) text', N the slot
index (ld_imm64 takes two), op the opcode byte. 'bpfjit asm' reads this output back to the same
bytes, for every program (forms the kernel cannot print use the extra syntax listed in
'bpfjit asm --help'). FILE is .bin (raw bytecode), .hex or .s (assembler text); other names are
recognised by their content. A NAME.json sidecar beside NAME.bin names the kfunc calls.
  --dialect D     standard (default), or kernel-xlated for a verified program as the JIT sees it
                  (helper calls are then printed as unknown#IMM: their imm is an address offset)
  --no-validate   print even an invalid program (instead of listing its problems, exit 1)
${MAX_PROG_INSNS_HELP}`,
  run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      dialect: { type: 'string' },
      'no-validate': { type: 'boolean' },
      ...MAX_PROG_INSNS_OPTION,
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one input file');
    const dialect = dialectOption(values);
    const maxSlots = maxSlotsOption(values);
    const input = readProgram(positionals[0]!, { dialect, validate: values['no-validate'] !== true, ...(maxSlots === undefined ? {} : { maxSlots }) });
    const callName = dialect === 'standard' ? sidecarKfuncs(input.sidecarPath) : undefined;
    process.stdout.write(printProgram(input.prog, callName ? { dialect, callName } : { dialect }));
    return Exit.OK;
  },
};
