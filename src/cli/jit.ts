// `bpfjit jit`: runs the x86-64 JIT on a kernel-xlated program and prints the images (hex, raw bytes
// or JSON with per-slot offsets and the exception table); --batch runs many jobs from a JSONL file.
import { readFileSync } from 'node:fs';
import { BpfError, UsageError } from '../errors.js';
import { decode, decodeHex } from '../isa/codec.js';
import type { Program } from '../isa/insn.js';
import { assertValid } from '../isa/validate.js';
import { jit, jitImage, type JitExtraOptions, type JitResultEx } from '../jit/index.js';
import { Exit, parseCommandArgs, parseU64, type Command, type OptionValues } from './command.js';
import { MAX_PROG_INSNS_OPTION, maxSlotsOption, readProgram } from './input.js';
import { readInput, writeFileAtomic } from './io.js';
import { jitTimingJson } from './timing.js';

const HELP = `Usage: bpfjit jit PROG [options] [--format hex|bin|json] [-o FILE]
       bpfjit jit --hex HEX [options] ...
       bpfjit jit --batch JOBS.jsonl

Compiles a verified BPF program exactly as Linux 6.18's x86-64 JIT does (BMI2 CPU, no IBT/CFI).
PROG is the program in the kernel-xlated dialect (what the kernel's JIT consumes: ld_imm64 as plain
64-bit values, PROBE_MEM32 arena accesses, helper calls as imm = target - call base, bpf-to-bpf calls
as relative offsets): .bin raw bytecode, .hex, or .s text; '-' reads raw bytecode or hex from stdin.
  --hex HEX              the program as hex on the command line instead of PROG
  --dialect D            kernel-xlated (default; the only dialect the JIT consumes)
  --image-base A[,B,..]  address of each function's image: main first, then subprograms in program
                         order (the kernel's ksyms); missing ones get defaults
  --call-base C          __bpf_call_base: helper and kfunc calls go to C + imm
  --kern-vm-start D      arena kernel address: the program uses an arena (r12 = D in every function)
  --user-vm-start E      arena user address (cast-to-user merges its upper 32 bits)
  --no-bmi2              a CPU without BMI2: register shifts go through cl
  --stack-depth N[,M,..] verifier stack depth of each function (default: derived from the code)
  --this-cpu-off X       low 32 bits of &this_cpu_off for the per-CPU address move
  --return-thunk T|none  return through 'jmp T' (kernels with the RETHUNK mitigation), or force 'ret';
                         both default to the known kernel build with this call base (else 'ret')
  --function-starts P,.. extra function starts (e.g. bpf_loop callbacks, only referenced by ld_imm64)
  --format F             hex (default): all images, main first, as one line of lowercase hex
                         bin: the raw bytes (to stdout, or to -o FILE written atomically)
                         json: images, per-slot offsets (addrs), exception tables, passes
  -o FILE                write the output to FILE (atomically) instead of stdout
  --no-validate          skip the structural check of the program
  --max-prog-insns N     largest program accepted, in 8-byte instruction slots (default 1000000, Linux's limit;
                         more is refused before it is read into memory)
  --time [--repeat N]    time the JIT in-process instead (program already decoded; median of N, default 5):
                         prints JSON {insns, bytes, passes, medianMs, insnsPerSec, ...}
Numbers are decimal or 0x-prefixed hex.

Batch: each line of JOBS.jsonl is one job
  {"program": HEX, "dialect": "kernel-xlated", "imageBase": [A, ...], "callBase": C,
   "kernVmStart": D, "userVmStart": E, "bmi2": true, "stackDepth": [N, ...],
   "thisCpuOff": X, "returnThunk": T}
(numbers as JSON numbers, decimal strings or "0x..." strings; only "program" is required). One line
is written per job, in order: {"hex": "..."} or {"error": "insn N: reason"}; a bad job does not stop
the others.`;

function u64List(name: string, text: string): bigint[] {
  return text.split(',').map((t) => parseU64(name, t.trim()));
}

export function optionsFrom(values: OptionValues): JitExtraOptions {
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const opts: { -readonly [K in keyof JitExtraOptions]: JitExtraOptions[K] } = {};
  const ib = str('image-base');
  if (ib !== undefined) opts.imageBase = u64List('image-base', ib);
  const cb = str('call-base');
  if (cb !== undefined) opts.callBase = parseU64('call-base', cb);
  const kv = str('kern-vm-start');
  if (kv !== undefined) opts.kernVmStart = parseU64('kern-vm-start', kv);
  const uv = str('user-vm-start');
  if (uv !== undefined) opts.userVmStart = parseU64('user-vm-start', uv);
  if (values['no-bmi2'] === true) opts.bmi2 = false;
  const sd = str('stack-depth');
  if (sd !== undefined) opts.stackDepth = u64List('stack-depth', sd).map((v) => stackDepthValue(v));
  const rt = str('return-thunk');
  if (rt !== undefined) opts.returnThunk = rt === 'none' ? 0n : parseU64('return-thunk', rt);
  const fs = str('function-starts');
  if (fs !== undefined) opts.functionStarts = u64List('function-starts', fs).map((v) => Number(v));
  const tc = str('this-cpu-off');
  if (tc !== undefined) opts.thisCpuOff = Number(parseU64('this-cpu-off', tc) & 0xffffffffn);
  return opts;
}

function stackDepthValue(v: bigint): number {
  if (v > 512n) throw new UsageError(`--stack-depth: ${v} is above the 512-byte BPF stack`);
  return Number(v);
}

export function readProg(values: OptionValues, positionals: string[]): Program {
  const dialect = values.dialect ?? 'kernel-xlated';
  if (dialect !== 'kernel-xlated') throw new UsageError(`--dialect: the JIT consumes kernel-xlated programs, got '${String(dialect)}'`);
  const validate = values['no-validate'] !== true;
  let prog: Program;
  const maxSlots = maxSlotsOption(values);
  const limit = maxSlots === undefined ? {} : { maxSlots };
  if (typeof values.hex === 'string') {
    if (positionals.length !== 0) throw new UsageError('give either PROG or --hex, not both');
    prog = decodeHex(values.hex, limit);
  } else {
    if (positionals.length !== 1) throw new UsageError('expected exactly one program (or --hex HEX, or --batch)');
    const path = positionals[0]!;
    if (path !== '-') return readProgram(path, { dialect: 'kernel-xlated', validate, ...limit }).prog;
    const bytes = readFileSync(0);
    const text = bytes.toString('latin1');
    prog = bytes.length > 0 && /^[\s0-9a-fA-F]*$/.test(text) ? decodeHex(text, limit) : decode(new Uint8Array(bytes), limit);
  }
  if (validate) assertValid(prog, 'kernel-xlated');
  return prog;
}

/** JSON form of a result: bigints as hex strings, images as hex. */
export function resultJson(r: JitResultEx): object {
  return {
    passes: r.passes,
    hex: Buffer.from(jitImage(r)).toString('hex'),
    functions: r.functions.map((f) => ({
      firstPc: f.firstPc,
      endPc: f.endPc,
      imageBase: `0x${f.imageBase.toString(16)}`,
      stackDepth: f.stackDepth,
      passes: f.passes,
      image: Buffer.from(f.image).toString('hex'),
      addrs: Array.from(f.addrs),
      extable: f.extable,
    })),
  };
}

function emit(out: string | Uint8Array, path: string | undefined): void {
  if (path !== undefined) writeFileAtomic(path, out);
  else process.stdout.write(out);
}

export const jitCmd: Command = {
  name: 'jit',
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
      'return-thunk': { type: 'string' },
      'function-starts': { type: 'string' },
      format: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'no-validate': { type: 'boolean' },
      batch: { type: 'string' },
      time: { type: 'boolean' },
      repeat: { type: 'string' },
      ...MAX_PROG_INSNS_OPTION,
    });
    const outPath = typeof values.output === 'string' ? values.output : undefined;
    if (typeof values.batch === 'string') {
      if (positionals.length !== 0 || values.hex !== undefined) throw new UsageError('--batch takes no program argument');
      emit(runBatch(readInput(values.batch).toString('utf8')), outPath);
      return Exit.OK;
    }
    const format = values.format ?? 'hex';
    if (format !== 'hex' && format !== 'bin' && format !== 'json') {
      throw new UsageError(`--format must be hex, bin or json, got '${String(format)}'`);
    }
    const opts = optionsFrom(values);
    if (values.time === true) {
      emit(jitTimingJson(readProg(values, positionals), opts, values.repeat), outPath);
      return Exit.OK;
    }
    const result = jit(readProg(values, positionals), opts);
    if (format === 'bin') emit(jitImage(result), outPath);
    else if (format === 'hex') emit(`${Buffer.from(jitImage(result)).toString('hex')}\n`, outPath);
    else emit(`${JSON.stringify(resultJson(result), null, 1)}\n`, outPath);
    return Exit.OK;
  },
};

// ---- batch ----

function jobNumber(v: unknown, what: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|\d+)$/.test(v)) {
    const b = BigInt(v);
    if (b < 1n << 64n) return b;
  }
  throw new BpfError({ message: `"${what}": expected a number or a "0x..." string, got ${JSON.stringify(v)}` });
}

function jobOptions(job: Record<string, unknown>): JitExtraOptions {
  const opts: { -readonly [K in keyof JitExtraOptions]: JitExtraOptions[K] } = {};
  if (job.dialect !== undefined && job.dialect !== 'kernel-xlated') {
    throw new BpfError({ message: `"dialect": the JIT consumes kernel-xlated programs, got ${JSON.stringify(job.dialect)}` });
  }
  if (job.imageBase !== undefined) {
    const list = Array.isArray(job.imageBase) ? job.imageBase : [job.imageBase];
    opts.imageBase = list.map((v, i) => jobNumber(v, `imageBase[${i}]`));
  }
  if (job.callBase !== undefined) opts.callBase = jobNumber(job.callBase, 'callBase');
  if (job.kernVmStart !== undefined && job.kernVmStart !== null) opts.kernVmStart = jobNumber(job.kernVmStart, 'kernVmStart');
  if (job.userVmStart !== undefined && job.userVmStart !== null) opts.userVmStart = jobNumber(job.userVmStart, 'userVmStart');
  if (job.bmi2 !== undefined) {
    if (typeof job.bmi2 !== 'boolean') throw new BpfError({ message: '"bmi2": expected true or false' });
    opts.bmi2 = job.bmi2;
  }
  if (job.stackDepth !== undefined) {
    const list = Array.isArray(job.stackDepth) ? job.stackDepth : [job.stackDepth];
    opts.stackDepth = list.map((v, i) => {
      const n = jobNumber(v, `stackDepth[${i}]`);
      if (n > 512n) throw new BpfError({ message: `"stackDepth[${i}]": ${n} is above 512` });
      return Number(n);
    });
  }
  if (job.thisCpuOff !== undefined) opts.thisCpuOff = Number(jobNumber(job.thisCpuOff, 'thisCpuOff') & 0xffffffffn);
  if (job.returnThunk !== undefined) opts.returnThunk = job.returnThunk === null ? 0n : jobNumber(job.returnThunk, 'returnThunk');
  return opts;
}

function runJob(line: string, lineNo: number): string {
  try {
    let job: unknown;
    try {
      job = JSON.parse(line);
    } catch {
      throw new BpfError({ message: `line ${lineNo}: invalid JSON` });
    }
    if (typeof job !== 'object' || job === null || Array.isArray(job)) throw new BpfError({ message: `line ${lineNo}: expected a JSON object` });
    const j = job as Record<string, unknown>;
    if (typeof j.program !== 'string') throw new BpfError({ message: `line ${lineNo}: "program" (hex) is required` });
    const prog = decodeHex(j.program);
    assertValid(prog, 'kernel-xlated');
    const hex = Buffer.from(jitImage(jit(prog, jobOptions(j)))).toString('hex');
    return JSON.stringify({ hex });
  } catch (e) {
    const msg = e instanceof BpfError ? e.message : `internal error: ${(e as Error).message ?? String(e)}`;
    return JSON.stringify({ error: msg });
  }
}

export function runBatch(text: string): string {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    out.push(runJob(line, i + 1));
  });
  return out.length ? `${out.join('\n')}\n` : '';
}
