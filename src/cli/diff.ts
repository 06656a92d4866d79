// `bpfjit diff`: byte-for-byte comparison of bpfjit's JIT with the running kernel's on one program. The
// kernel's own verified program (xlated_resolved) is fed to bpfjit's JIT at the kernel's addresses; any
// difference is shown per BPF instruction, both x86 sequences side by side, first differing byte marked.
import { Decoder, Formatter, FormatterSyntax } from 'iced-x86';
import { UsageError } from '../errors.js';
import { decode } from '../isa/codec.js';
import type { Insn, Program } from '../isa/insn.js';
import { printInsn } from '../isa/print.js';
import { jit, type JitFunction } from '../jit/index.js';
import type { RunEnv } from '../env.js';
import { Engine } from '../emu/index.js';
import { compareKernelRecords, kernelSymbolAt, runInKernel, type KernelRecord } from '../kernel/index.js';
import { Exit, parseCommandArgs, type Command } from './command.js';
import { hostSymbols, jitOptionsFor, programAndEnv, runResults, withKernel } from './kernel.js';
import { MAX_PROG_INSNS_HELP, MAX_PROG_INSNS_OPTION, maxSlotsOption } from './input.js';

const HELP = `Usage: bpfjit diff PROG [--env ENV.json] [--prog NAME] [--all] [--run]

Loads PROG into the running kernel (as 'bpfjit kernel jit' does), JITs the kernel's verified program
(xlated_resolved) with bpfjit at the kernel's addresses (ksyms, __bpf_call_base, kern_vm_start,
user_vm_start, this_cpu_off) and compares the images byte for byte.
Prints "identical (N bytes)" and exits 0, or, per BPF instruction whose code differs, the kernel's and
bpfjit's x86 side by side with the first differing byte in [brackets] and exits 1 (also when --run finds
different results).
  --env ENV.json   the program's environment (default: NAME.json beside a .bin or .s)
  --prog NAME      ELF objects with several programs: the one to load (SEC("syscall") programs)
  --all            show every differing instruction (default: the first 20)
${MAX_PROG_INSNS_HELP}
  --run            also run the program once in the kernel and bpfjit's image on the emulator (kernel
                   addresses, this kernel's helper addresses from /proc/kallsyms) and compare retval, ctx
                   and arena pages (programs whose helpers return random or time values differ by nature;
                   not for ELF programs with maps besides the arena: said so, not counted as a difference)
Needs bpf() (exit 3 with the reason where it is not permitted; BPFJIT_NO_BPF=1 forces that).`;

interface X86Line {
  readonly at: number;
  readonly bytes: Uint8Array;
  readonly text: string;
}

function disassemble(image: Uint8Array, base: bigint): X86Line[] {
  const out: X86Line[] = [];
  const d = new Decoder(64, image, 0);
  d.ip = base;
  const f = new Formatter(FormatterSyntax.Intel);
  while (d.canDecode) {
    const at = Number(d.ip - base);
    const ins = d.decode();
    out.push({ at, bytes: image.subarray(at, at + ins.length), text: f.format(ins) });
    ins.free();
  }
  f.free();
  d.free();
  return out;
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Hex of each line, the byte at `mark` (an offset into the concatenated sequence) in brackets. */
function renderSide(lines: readonly X86Line[], mark: number): string[] {
  let pos = 0;
  return lines.map((l) => {
    let h = '';
    l.bytes.forEach((b, i) => {
      const x = b.toString(16).padStart(2, '0');
      h += pos + i === mark ? `[${x}]` : x;
    });
    pos += l.bytes.length;
    return `${h.padEnd(24)} ${l.text}`;
  });
}

function concat(lines: readonly X86Line[]): Uint8Array {
  return new Uint8Array(Buffer.concat(lines.map((l) => Buffer.from(l.bytes))));
}

/** Lines of one function's difference report, per BPF instruction (the prologue counts as its own block). */
export function functionReport(prog: Program, fn: JitFunction, kernelImage: Uint8Array, base: bigint, limit: number): string[] {
  const ours = disassemble(fn.image, base);
  const theirs = disassemble(kernelImage, base);
  const indexAt = new Map(ours.map((l, i) => [l.at, i]));
  const out: string[] = [];
  const byPc = new Map(prog.insns.map((i) => [i.pc, i]));
  const blocks: { label: string; from: number; to: number }[] = [{ label: 'prologue', from: 0, to: fn.addrs[0] ?? 0 }];
  for (let pc = fn.firstPc; pc < fn.endPc; pc++) {
    const insn: Insn | undefined = byPc.get(pc);
    if (!insn) continue;
    const k = pc - fn.firstPc;
    const next = insn.code === 0x18 ? k + 2 : k + 1;
    blocks.push({ label: `insn ${pc}: ${printInsn(insn)}`, from: fn.addrs[k]!, to: fn.addrs[next] ?? fn.image.length });
  }
  let shown = 0;
  let hidden = 0;
  for (const b of blocks) {
    const ia = indexAt.get(b.from);
    const ib = b.to >= fn.image.length ? ours.length : indexAt.get(b.to);
    if (ia === undefined || ib === undefined) continue;
    const mine = ours.slice(ia, ib);
    const kern = theirs.slice(ia, Math.min(ib, theirs.length));
    const a = concat(kern);
    const m = concat(mine);
    let first = 0;
    while (first < a.length && first < m.length && a[first] === m[first]) first++;
    if (first === a.length && first === m.length) continue;
    if (shown >= limit) {
      hidden++;
      continue;
    }
    shown++;
    out.push(`  ${b.label}   (kernel +0x${(kern[0]?.at ?? 0).toString(16)}, bpfjit +0x${b.from.toString(16)})`);
    const left = renderSide(kern, first);
    const right = renderSide(mine, first);
    out.push(`    ${'kernel'.padEnd(56)} | bpfjit`);
    for (let i = 0; i < Math.max(left.length, right.length); i++) out.push(`    ${(left[i] ?? '').padEnd(56)} | ${right[i] ?? ''}`);
  }
  if (hidden) out.push(`  ... ${hidden} more differing instructions (--all shows them)`);
  if (theirs.length !== ours.length) out.push(`  (${theirs.length} kernel vs ${ours.length} bpfjit x86 instructions: blocks after the first difference may be misaligned)`);
  return out;
}

/** The kernel's run against bpfjit's image on the emulator; prints the verdict, returns whether equal. */
function compareResults(record: KernelRecord, env: RunEnv, prog: Program): boolean {
  // The emulator returns with `ret`, so it runs an image without the return thunk (the code is otherwise the same).
  const fns = jit(prog, { ...jitOptionsFor(record), returnThunk: 0n }).functions;
  const engine = new Engine({ symbols: hostSymbols(record) });
  try {
    const d = runResults(engine, record, env, fns);
    console.log(d ? `results differ: ${d}` : `results equal (retval ${record.retval}, ctx, arena pages)`);
    return d === '';
  } finally {
    engine.close();
  }
}

export const diffCmd: Command = {
  name: 'diff',
  help: HELP,
  run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { env: { type: 'string' }, prog: { type: 'string' }, all: { type: 'boolean' }, run: { type: 'boolean' }, ...MAX_PROG_INSNS_OPTION });
    const [path, ...extra] = positionals;
    if (path === undefined) throw new UsageError('missing PROG');
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    return withKernel('diff', () => {
      const input = programAndEnv(path, values.env as string | undefined, values.prog as string | undefined, maxSlotsOption(values));
      const { bin, env, name, maps, btf } = input;
      const withRun = values.run === true;
      const { record } = runInKernel(bin, env, { name, maps, ...(btf ? { btf } : {}), run: withRun });
      const prog = decode(Buffer.from(record.xlated_resolved, 'hex'));
      const result = jit(prog, jitOptionsFor(record));
      const kernelImage = Buffer.from(record.jited, 'hex');
      const ourImage = Buffer.concat(result.functions.map((f) => Buffer.from(f.image)));
      const otherMaps = input.otherMapsUsed;
      if (withRun && otherMaps.length) {
        console.log(`results not compared: the program uses maps besides the arena (${otherMaps.join(', ')}), which the emulator does not get from the kernel`);
      }
      const resultsSame = withRun && !otherMaps.length ? compareResults(record, env, prog) : true;
      if (ourImage.equals(kernelImage)) {
        console.log(`identical (${kernelImage.length} bytes)`);
        return resultsSame ? Exit.OK : 1;
      }
      const limit = values.all === true ? Infinity : 20;
      let off = 0;
      result.functions.forEach((fn, i) => {
        const len = record.func_lens[i] ?? 0;
        const kimg = new Uint8Array(kernelImage.subarray(off, off + len));
        off += len;
        const label = i === 0 ? 'main' : `subprogram at insn ${fn.firstPc}`;
        if (hexOf(kimg) === hexOf(fn.image)) {
          console.log(`function ${i} (${label}): identical (${len} bytes)`);
          return;
        }
        console.log(`function ${i} (${label}) at ${record.ksyms[i]}: kernel ${len} bytes, bpfjit ${fn.image.length} bytes`);
        for (const line of functionReport(prog, fn, kimg, BigInt(record.ksyms[i] ?? '0'), limit)) console.log(line);
      });
      const ours = { ...record, jited: ourImage.toString('hex'), func_lens: result.functions.map((f) => f.image.length) };
      if (record.return_thunk !== null && compareKernelRecords(record, ours, false).every((d) => d.field !== 'jited')) {
        const sym = kernelSymbolAt(BigInt(record.return_thunk)) ?? record.return_thunk;
        console.log(`note: the only differences are returns: this kernel returns through a thunk (jmp ${sym}) where bpfjit emits ret`);
      }
      console.log(`differs (kernel ${kernelImage.length} bytes, bpfjit ${ourImage.length} bytes)`);
      return 1;
    });
  },
};
