// `bpfjit kernel jit|run`: the running kernel as the reference — what its JIT made of a program (the
// corpus's NAME.kernel.json fields) and what the program did when run once. Also the shared handling of
// "bpf() not permitted here" (one line, exit 3) for every command that needs the kernel.
import { BpfError, UsageError } from '../errors.js';
import { DEFAULT_ENV, parseEnv, type RunEnv } from '../env.js';
import { encode } from '../isa/codec.js';
import { allocatedPages, applyPrefault, arenaFromSpec, dumpPages, type Arena } from '../arena/index.js';
import { Engine, HelperId, LINUX_6_18, type KernelSymbols } from '../emu/index.js';
import type { JitExtraOptions } from '../jit/index.js';
import { BpfUnavailableError, ProgLoadError, SyscallError, kernelSymbol, runInKernel, type FuncInfo, type KernelMapSpec, type KernelRecord } from '../kernel/index.js';
import { existsSync } from 'node:fs';
import { kernelBtf } from '../loader/index.js';
import { Exit, parseCommandArgs, type Command } from './command.js';
import { MAX_PROG_INSNS_HELP, MAX_PROG_INSNS_OPTION, maxSlotsOption, readProgram } from './input.js';
import { readInput } from './io.js';

/** Runs fn; maps "bpf() not permitted" to one line + exit 3 and kernel refusals to exit 1. */
export async function withKernel(cmd: string, fn: () => Promise<number> | number): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof BpfUnavailableError) {
      console.error(`bpfjit ${cmd}: ${e.message}`);
      return Exit.NOT_PERMITTED;
    }
    if (e instanceof ProgLoadError) {
      const log = e.log.trimEnd().split('\n').slice(-20).join('\n');
      console.error(`bpfjit ${cmd}: the kernel refused the program (${e.message.split(':')[1]?.trim() ?? e.message})${log ? `; verifier log:\n${log}` : ''}`);
      return Exit.BAD_INPUT;
    }
    if (e instanceof SyscallError) throw new BpfError({ message: e.message });
    throw e;
  }
}

/** What the kernel commands load: bytecode (corpus placeholders allowed), environment, ELF maps. */
export interface KernelInput {
  readonly bin: Uint8Array;
  readonly env: RunEnv;
  readonly name: string;
  /** ELF objects: the object's maps (created in the kernel before the load). */
  readonly maps: readonly KernelMapSpec[];
  /** ELF objects: names of the maps besides the arena that the program refers to. */
  readonly otherMapsUsed: readonly string[];
  /** ELF objects with BTF: what the kernel needs for func_info. */
  readonly btf?: { readonly data: Uint8Array; readonly funcInfo: readonly FuncInfo[] };
}

function readEnvFile(src: string): RunEnv {
  let json: unknown;
  try {
    json = JSON.parse(readInput(src).toString('utf8'));
  } catch (e) {
    if (e instanceof BpfError) throw e;
    throw new BpfError({ message: `${src}: not valid JSON (${(e as Error).message})` });
  }
  return parseEnv(json, src);
}

/**
 * The program and its environment: --env, else NAME.json beside a .bin or .s, else (ELF objects) the
 * object's arena, globals and kfuncs, else none. `prog` picks the program of an ELF object.
 */
export function programAndEnv(path: string, envPath: string | undefined, prog?: string, maxSlots?: number): KernelInput {
  const input = readProgram(path, { validate: false, ...(prog !== undefined ? { prog } : {}), ...(maxSlots === undefined ? {} : { maxSlots }) });
  if (prog !== undefined && !input.object) throw new UsageError('--prog applies to ELF objects only');
  const beside = `${path.replace(/\.[^./]*$/, '')}.json`;
  const src = envPath ?? input.sidecarPath ?? (input.source === 's' && existsSync(beside) ? beside : undefined);
  const obj = input.object;
  if (obj && obj.program.progType !== 'syscall') {
    throw new BpfError({ message: `program '${obj.program.name}' is SEC("${obj.program.section}") (${obj.program.progType}); the kernel oracle loads syscall programs only` });
  }
  const env = src !== undefined ? readEnvFile(src) : obj ? obj.run.env : DEFAULT_ENV;
  const name = obj ? obj.program.name : path.replace(/^.*\//, '').replace(/\.[^.]*$/, '');
  const maps = obj ? obj.run.maps : [];
  const otherMapsUsed = obj ? maps.filter((m) => m.kind !== 'arena' && obj.program.mapsUsed.includes(m.index)).map((m) => m.name) : [];
  const base = { bin: encode(obj ? obj.run.program : input.prog), env, name, maps, otherMapsUsed };
  if (!obj) return base;
  // Callbacks and global functions need BTF func_info, one FUNC per function (as libbpf passes it).
  const fns = obj.program.functions;
  // A plain copy: kernelBtf patches through a DataView over .slice() of a Buffer (a view into the file).
  const data = kernelBtf(new Uint8Array(readInput(path)));
  if (data === null || fns.some((f) => f.btfTypeId === 0)) return base;
  return { ...base, btf: { data, funcInfo: [...fns].sort((a, b) => a.pc - b.pc).map((f) => ({ insnOff: f.pc, typeId: f.btfTypeId })) } };
}

const HELP = `Usage: bpfjit kernel jit PROG [--env ENV.json] [--prog NAME] [--format json|hex|txt]
       bpfjit kernel run PROG [--env ENV.json] [--prog NAME] [--json]

Loads PROG into the running kernel (BPF_PROG_TYPE_SYSCALL, sleepable, GPL) and reports what the kernel
did. PROG is raw bytecode (.bin), .hex or .s in the corpus convention: ld_imm64 src 1 / src 2 with imm 0
name the arena map / an address in it, kfunc calls (src 2) carry a key of the env's "kfuncs" table.
ENV.json is the corpus sidecar format (arena, kfuncs, prefault, ctx); default: NAME.json beside a .bin
or .s. PROG may be an ELF object (SEC("syscall") programs; --prog NAME picks one of several): its maps
are created as libbpf would (initial values written, .rodata frozen), its arena and globals come from it.

  jit   the JIT image and the verified program, as the corpus's NAME.kernel.json fields: jited, xlated,
        xlated_resolved (PROBE_MEM32 marks from the image, map pointers, helper imm = target - call_base),
        image_base/ksyms/func_lens, call_base, kern_vm_start, user_vm_start, map_ptr, kfunc_addrs, plus
        stack_depths (verifier), return_thunk and this_cpu_off (this kernel's build).
        --format json (default) | hex (one "field: value" line each) | txt (the verifier's own text of each
        instruction it visited, as NAME.kernel.txt: log level 2)
  run   runs the program once (BPF_PROG_TEST_RUN) and prints the result; --json gives the shape of
        'bpfjit run --json': {"retval", "ctx", "arenaPages", "arenaAllocated", "fault": null}. The kernel
        returns only the low 32 bits of r0, so there is no "r0" field.

${MAX_PROG_INSNS_HELP}

Needs bpf(): root or CAP_BPF+CAP_PERFMON on Linux x86-64. Where it is not permitted the command says why
in one line and exits 3; BPFJIT_NO_BPF=1 forces that path.`;

function jitFields(r: KernelRecord): Record<string, unknown> {
  const { retval: _r, ctx_out: _c, run_ns: _n, arena_pages_after: _p, arena_allocated_after: _a, ...rest } = r;
  return rest;
}

/** The `bpfjit run --json` shape of a kernel run. */
export function runJson(r: KernelRecord): Record<string, unknown> {
  return {
    retval: r.retval,
    ctx: r.ctx_out,
    arenaPages: r.arena_pages_after ?? {},
    arenaAllocated: r.arena_allocated_after ?? [],
    fault: null,
  };
}

export const kernelCmd: Command = {
  name: 'kernel',
  help: HELP,
  run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      env: { type: 'string' },
      format: { type: 'string' },
      json: { type: 'boolean' },
      prog: { type: 'string' },
      ...MAX_PROG_INSNS_OPTION,
    });
    const [sub, path, ...extra] = positionals;
    if (sub !== 'jit' && sub !== 'run') throw new UsageError(`expected 'kernel jit PROG' or 'kernel run PROG', got '${sub ?? ''}'`);
    if (path === undefined) throw new UsageError(`kernel ${sub}: missing PROG`);
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const format = (values.format as string | undefined) ?? 'json';
    if (format !== 'json' && format !== 'hex' && format !== 'txt') throw new UsageError(`--format: expected json, hex or txt, got '${format}'`);
    if (sub === 'jit' && values.json === true) throw new UsageError('kernel jit: use --format json');
    if (sub === 'run' && values.format !== undefined) throw new UsageError('kernel run: use --json');
    return withKernel(`kernel ${sub}`, () => {
      const { bin, env, name, maps, btf } = programAndEnv(path, values.env as string | undefined, values.prog as string | undefined, maxSlotsOption(values));
      if (sub === 'jit') {
        const { record, kernelText } = runInKernel(bin, env, { name, maps, ...(btf ? { btf } : {}), run: false, verifierText: format === 'txt' });
        if (format === 'txt') {
          process.stdout.write(kernelText ?? '');
          return Exit.OK;
        }
        const fields = jitFields(record);
        if (format === 'json') console.log(JSON.stringify(fields, null, 1));
        else for (const [k, v] of Object.entries(fields)) console.log(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
        return Exit.OK;
      }
      const { record } = runInKernel(bin, env, { name, maps, ...(btf ? { btf } : {}), run: true });
      if (values.json === true) console.log(JSON.stringify(runJson(record)));
      else {
        console.log(`retval ${record.retval} (0x${(record.retval ?? 0).toString(16)})`);
        console.log(`ctx ${record.ctx_out}`);
        console.log(`arena allocated pages: ${(record.arena_allocated_after ?? []).join(' ') || '(none)'}`);
        for (const [pg, data] of Object.entries(record.arena_pages_after ?? {})) console.log(`arena page ${pg}: ${data}`);
      }
      return Exit.OK;
    });
  },
};

/** bpfjit's JIT options that put its images where the kernel put its own. */
export function jitOptionsFor(r: KernelRecord): JitExtraOptions {
  const opts: JitExtraOptions = {
    imageBase: r.ksyms.map((k) => BigInt(k)),
    callBase: BigInt(r.call_base),
    ...(r.kern_vm_start !== null ? { kernVmStart: BigInt(r.kern_vm_start) } : {}),
    ...(r.user_vm_start !== null ? { userVmStart: BigInt(r.user_vm_start) } : {}),
    ...(r.this_cpu_off !== null ? { thisCpuOff: Number(BigInt(r.this_cpu_off) & 0xffffffffn) } : {}),
    // Kernels with CONFIG_MITIGATION_RETHUNK return through a thunk (jmp) instead of ret.
    ...(r.return_thunk !== null ? { returnThunk: BigInt(r.return_thunk) } : {}),
  };
  return opts;
}

/**
 * The kernel build's symbols for the emulator, for records made on this host: the record's call base and
 * kfunc addresses, helpers by name from /proc/kallsyms, and the data addresses the verifier's inlined helpers
 * use, read from the program itself (cpu_number before the per-CPU move, &jiffies before its load).
 */
export function hostSymbols(r: KernelRecord): KernelSymbols {
  const helpers = new Map<number, bigint>();
  for (const [name, id] of Object.entries(HelperId) as [string, number][]) {
    const a = kernelSymbol(name === 'get_prandom_u32' ? 'bpf_user_rnd_u32' : `bpf_${name}`);
    if (a !== null) helpers.set(id, a);
  }
  const x = Buffer.from(r.xlated_resolved, 'hex');
  let cpuNumber = LINUX_6_18.cpuNumber;
  let jiffies = LINUX_6_18.jiffies;
  for (let i = 0; i + 16 <= x.length; i += 8) {
    const next = x.subarray(i + 8, i + 16);
    const dst = x[i + 1]! & 0x0f;
    const percpu = next[0] === 0xbf && next.readInt16LE(2) === -1 && next[1] === (dst | (dst << 4));
    if ((x[i] === 0xb7 || x[i] === 0xb4) && percpu) cpuNumber = BigInt.asUintN(64, BigInt(x.readInt32LE(i + 4)));
    // r = &jiffies; r = *(u64 *)(r + 0)
    if (x[i] === 0x18 && i + 24 <= x.length && x[i + 16] === 0x79 && x[i + 17]! >> 4 === dst && x.readInt16LE(i + 18) === 0) {
      const v = (BigInt(x.readUInt32LE(i + 12)) << 32n) | BigInt(x.readUInt32LE(i + 4));
      if (v >= 0xffff800000000000n) jiffies = v;
    }
  }
  return {
    ...LINUX_6_18,
    callBase: BigInt(r.call_base),
    helpers,
    kfuncs: new Map(Object.entries(r.kfunc_addrs).map(([k, v]) => [k, BigInt(v)])),
    timedMayGoto: kernelSymbol('arch_bpf_timed_may_goto') ?? LINUX_6_18.timedMayGoto,
    thisCpuOff: r.this_cpu_off !== null ? BigInt.asUintN(64, BigInt(BigInt.asIntN(32, BigInt(r.this_cpu_off)))) : LINUX_6_18.thisCpuOff,
    cpuNumber,
    jiffies,
  };
}

/** Whether a record was made on this host's kernel build (same __bpf_call_base). */
export function madeOnThisKernel(r: KernelRecord): boolean {
  try {
    return kernelSymbol('__bpf_call_base') === BigInt(r.call_base);
  } catch {
    return false;
  }
}

/** The sidecar fields a run needs (NAME.json / ENV.json). */
export interface RunSidecar {
  arena: { pages: number; flags: number; map_extra: number | bigint } | null;
  prefault: Record<string, string>;
  ctx: string;
  deterministic?: boolean;
}

/** Runs bpfjit's functions on the engine with the program's environment at the kernel's arena addresses;
 *  returns what differs from the kernel's recorded run ('' when nothing). */
export function runResults(engine: Engine, rec: KernelRecord, side: RunSidecar, fns: Parameters<Engine['load']>[0]): string {
  engine.load(fns);
  let arena: Arena | null = null;
  if (side.arena) {
    arena = arenaFromSpec(side.arena, {
      ...(rec.kern_vm_start ? { kernVmStart: BigInt(rec.kern_vm_start) } : {}),
      ...(rec.user_vm_start ? { userVmStart: BigInt(rec.user_vm_start) } : {}),
    });
    applyPrefault(arena, side.prefault);
  }
  engine.setArena(arena);
  try {
    const r = engine.run({ ctx: Buffer.from(side.ctx, 'hex') });
    const d: string[] = [];
    if (r.fault) d.push(`fault: ${r.fault.message}`);
    if (r.retval !== rec.retval) d.push(`retval ${r.retval} vs kernel ${rec.retval}`);
    if (Buffer.from(r.ctx).toString('hex') !== rec.ctx_out) d.push('ctx');
    if (arena && JSON.stringify(dumpPages(arena)) !== JSON.stringify(rec.arena_pages_after ?? {})) d.push('arena pages');
    if (arena && JSON.stringify(allocatedPages(arena)) !== JSON.stringify(rec.arena_allocated_after ?? [])) d.push('allocated pages');
    return d.join(', ');
  } finally {
    engine.setArena(null);
    arena?.dispose();
  }
}

