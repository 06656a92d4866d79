// `bpfjit asm`: assembles kernel-syntax (or bpf_conformance-syntax) text into bytecode.
import { UsageError } from '../errors.js';
import { encode } from '../isa/codec.js';
import type { Dialect } from '../isa/insn.js';
import type { AsmSyntax } from '../isa/parse.js';
import { parse } from '../isa/parse.js';
import { assertValid } from '../isa/validate.js';
import { Exit, parseCommandArgs, type Command, type OptionValues } from './command.js';
import { checkProgramSize, MAX_PROG_INSNS_OPTION, maxSlotsOption } from './input.js';
import { MAX_PROGRAM_SLOTS } from '../isa/codec.js';
import { readInput, writeFileAtomic } from './io.js';

export function dialectOption(values: OptionValues): Dialect {
  const d = values.dialect ?? 'standard';
  if (d !== 'standard' && d !== 'kernel-xlated') throw new UsageError(`--dialect must be standard or kernel-xlated, got '${String(d)}'`);
  return d;
}

function syntaxOption(values: OptionValues): AsmSyntax {
  const s = values.syntax ?? 'kernel';
  if (s !== 'kernel' && s !== 'conformance') throw new UsageError(`--syntax must be kernel or conformance, got '${String(s)}'`);
  return s;
}

/** Bytecode as hex, one 8-byte slot per line (the second slot of ld_imm64 on its own line). */
export function hexLines(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 8) lines.push(Buffer.from(bytes.subarray(i, i + 8)).toString('hex'));
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export const asm: Command = {
  name: 'asm',
  help: `Usage: bpfjit asm FILE.s [-o FILE.bin] [--syntax kernel|conformance] [--dialect standard|kernel-xlated]
                  [--no-validate]

Assembles FILE.s into little-endian 8-byte BPF instructions.
  -o FILE.bin        write the bytecode there (atomically); without -o the bytecode is printed to
                     stdout as hex, one 8-byte slot per line (a valid .hex input for every command)
  --syntax kernel    (default) the kernel verifier-log syntax, exactly what 'bpfjit disasm' prints:
                       r0 = *(u64 *)(r1 +8)   if r1 s> 0x5 goto pc+3   lock *(u64 *)(r10 -8) += r1
                       r1 = addr_space_cast(r1, 0, 1)   call bpf_ktime_get_ns#5   gotol pc+5   exit
                     with labels (name:), ';' or '//' comments, and an optional 'N: (op) ' prefix per
                     line; 'rN = 0x...' (hex) is ld_imm64, 'rN = 5' (decimal) is mov.
                     Extra forms: map[fd:N], map[fd:N][0]+OFF, map[idx:N], map[idx:N]+OFF, btf_id[N],
                     subprog[+N] (ld_imm64 references); *(u64 __arena *)(...) (PROBE_MEM32 modes);
                     w0 = zext(w0); callx r2; call NAME#N (a non-helper NAME is a kfunc);
                     .insn code=0x.. dst=N src=N off=N imm=N [imm2=N] (any exact encoding)
  --syntax conformance  the bpf_conformance test syntax: mov32 %r0, 1 / ldxdw %r0, [%r1+8] /
                     lock fetch add [%r10-8], %r1 / jsgt32 %r1, %r2, +1 / call local f / call %r2 ...
  --dialect D        validate as standard (default) or kernel-xlated (PROBE_* modes, r11, ...)
  --no-validate      skip validation (assemble invalid programs for negative tests)
  --max-prog-insns N largest program accepted, in 8-byte instruction slots (default ${MAX_PROGRAM_SLOTS}, Linux's limit)
Every problem is reported as 'line N: reason' (parse) or 'insn N: reason' (validation); exit 1.`,
  run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      output: { type: 'string', short: 'o' },
      syntax: { type: 'string' },
      dialect: { type: 'string' },
      'no-validate': { type: 'boolean' },
      ...MAX_PROG_INSNS_OPTION,
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one input file');
    const dialect = dialectOption(values);
    const syntax = syntaxOption(values);
    const text = readInput(positionals[0]!).toString('utf8');
    const prog = checkProgramSize(parse(text, { syntax }), maxSlotsOption(values));
    if (values['no-validate'] !== true) assertValid(prog, dialect);
    const bytes = encode(prog);
    const out = values.output;
    if (typeof out === 'string') writeFileAtomic(out, bytes);
    else process.stdout.write(hexLines(bytes));
    return Exit.OK;
  },
};
