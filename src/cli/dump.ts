// `bpfjit dump`: each BPF instruction next to the x86-64 the JIT made of it.
import { UsageError } from '../errors.js';
import { jit } from '../jit/index.js';
import { Exit, parseCommandArgs, type Command } from './command.js';
import { optionsFrom, readProg } from './jit.js';
import { buildListing, renderListing } from './listing.js';

const HELP = `Usage: bpfjit dump PROG [options] [--json]

Shows every BPF instruction (index and kernel syntax) followed by the x86-64 instructions the JIT
emitted for it (image offset, bytes, Intel syntax), like 'bpftool prog dump jited linum' but readable:
branch and call targets are named as BPF instruction numbers or functions, the prologue's arena base
(r12 = kern_vm_start) is marked, and every arena access shows its exception-table fix-up (the register
zeroed on a fault, or 'store dropped', and where execution resumes).
  --dialect kernel-xlated  PROG is what the kernel's JIT consumes (see 'bpfjit jit --help')
  --image-base, --call-base, --kern-vm-start, --user-vm-start, --no-bmi2, --stack-depth,
  --this-cpu-off           as for 'bpfjit jit'
  --hex HEX                the program as hex instead of PROG
  --json                   the listing as JSON (functions → instructions → x86 lines)`;

export const dumpCmd: Command = {
  name: 'dump',
  summary: 'show each BPF instruction next to the x86-64 it became',
  help: HELP,
  run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      hex: { type: 'string' },
      dialect: { type: 'string' },
      'image-base': { type: 'string' },
      'call-base': { type: 'string' },
      'kern-vm-start': { type: 'string' },
      'user-vm-start': { type: 'string' },
      'no-bmi2': { type: 'boolean' },
      'stack-depth': { type: 'string' },
      'this-cpu-off': { type: 'string' },
      'no-validate': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (values.dialect !== undefined && values.dialect !== 'kernel-xlated') {
      throw new UsageError(`--dialect: only kernel-xlated is supported so far, got '${String(values.dialect)}'`);
    }
    const prog = readProg(values, positionals);
    const result = jit(prog, optionsFrom(values));
    const listing = buildListing(prog, result);
    process.stdout.write(values.json === true ? `${JSON.stringify({ functions: listing }, null, 1)}\n` : renderListing(listing));
    return Exit.OK;
  },
};
