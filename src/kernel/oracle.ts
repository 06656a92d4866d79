// src/kernel — the oracle: load a corpus-format program into the running kernel with its environment,
// read back what the JIT made of it, run it once, and report it in the corpus's NAME.kernel.json shape.
import { BpfError } from '../errors.js';
import type { RunEnv } from '../env.js';
import { decode } from '../isa/codec.js';
import { LogLevel, btfLoad, progInfo, progLoad, testRun, type FuncInfo } from './bpf.js';
import { KernelArena, PAGE_SIZE } from './arena.js';
import { resolvePlaceholders } from './placeholders.js';
import { resolveXlated, returnThunkTarget, type LdImm64Check } from './resolve.js';
import { closeFd, requireBpf } from './sys.js';
import { closeMaps, createMaps, type KernelMapSpec } from './maps.js';
import { hasCallbacks, minimalFuncBtf } from './btf.js';
import { kernelSymbol, kfuncBtfId } from './symbols.js';

/** NAME.kernel.json, field for field (plus `stack_depths`, from the verifier's statistics). */
export interface KernelRecord {
  name: string;
  ok: boolean;
  insn_count: number;
  jited: string;
  xlated: string;
  xlated_resolved: string;
  resolve_notes: string[];
  jit_check: string;
  image_base: string;
  call_base: string;
  ksyms: string[];
  func_lens: number[];
  kern_vm_start: string | null;
  user_vm_start: string | null;
  map_ptr: string | null;
  kfunc_addrs: Record<string, string>;
  verified_insns: number;
  ld_imm64_checked: LdImm64Check[];
  /** Result fields: present when the program was run. */
  retval?: number;
  ctx_out?: string;
  run_ns?: number;
  arena_pages_after?: Record<string, string>;
  arena_allocated_after?: number[];
  verifier_log: string[];
  load_s: number;
  /** Loads the verifier inlined for helpers (per-CPU / jiffies reads): present only when there are some. */
  inline_helper_loads?: number[];
  /** Verifier stack depth of each function ("stack depth A+B" of the statistics). */
  stack_depths: number[];
  /** Where the epilogue jumps instead of `ret` (kernels with return thunks), else null. */
  return_thunk: string | null;
  /** &this_cpu_off (the per-CPU move of inlined helpers adds gs:[its low 32 bits]): from the image, else kallsyms. */
  this_cpu_off: string | null;
}

export interface OracleOptions {
  readonly name?: string;
  /** Run the program with BPF_PROG_TEST_RUN and read the arena back (default true). */
  readonly run?: boolean;
  /** Load with log level 2 and return the NAME.kernel.txt text. */
  readonly verifierText?: boolean;
  /** ELF objects: the object's maps, created before the load (the arena comes from the env). */
  readonly maps?: readonly KernelMapSpec[];
  /** ELF objects: the program's BTF (BPF_BTF_LOAD-ready) and func_info (the kernel wants it for callbacks). */
  readonly btf?: { readonly data: Uint8Array; readonly funcInfo: readonly FuncInfo[] };
}

export interface OracleResult {
  readonly record: KernelRecord;
  /** NAME.kernel.txt: one line `N: (op) text` per visited instruction (only with verifierText). */
  readonly kernelText?: string;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;
const hexOrNull = (v: bigint | null): string | null => (v === null ? null : hex(v));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Loads `bin` (corpus bytecode with placeholders) with `env` into the kernel; closes every fd and mapping. */
export function runInKernel(bin: Uint8Array, env: RunEnv, opts: OracleOptions = {}): OracleResult {
  requireBpf();
  const prog = decode(bin);
  const ctx = new Uint8Array(Buffer.from(env.ctx, 'hex'));
  let arena: KernelArena | null = null;
  let fd = -1;
  let maps = new Map<number, number>();
  let btfFd = -1;
  try {
    if (env.arena) {
      arena = KernelArena.create(env.arena);
      for (const [pg, data] of Object.entries(env.prefault)) arena.writePage(Number(pg), new Uint8Array(Buffer.from(data, 'hex')));
    } else if (Object.keys(env.prefault).length > 0) {
      throw new BpfError({ message: 'env: "prefault" pages given but there is no arena' });
    }
    maps = createMaps(opts.maps ?? []);
    const placed = resolvePlaceholders(prog, env, arena?.fd ?? null, kfuncBtfId, maps);
    const t0 = process.hrtime.bigint();
    // Raw bytecode with callbacks gets a minimal BTF (the kernel refuses callbacks without func_info).
    const btf = opts.btf ?? (hasCallbacks(prog) ? minimalFuncBtf(prog) : undefined);
    if (btf) btfFd = btfLoad(btf.data);
    const loaded = progLoad({
      insns: placed.bytes,
      logLevel: opts.verifierText ? LogLevel.ALL | LogLevel.STATS : LogLevel.STATS,
      name: 'bpfjit',
      ...(btf ? { btfFd, funcInfo: btf.funcInfo } : {}),
    });
    const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
    fd = loaded.fd;
    const info = progInfo(fd);
    const uvs = arena ? arena.userVmStart : null;
    const r = resolveXlated({ xlated: info.xlated, jited: info.jited, funcLens: info.funcLens, userVmStart: uvs, ksyms: info.ksyms });
    const callBase = kernelSymbol('__bpf_call_base');
    if (callBase === null) throw new BpfError({ message: '/proc/kallsyms hides __bpf_call_base (kptr_restrict?)' });
    const kfuncAddrs: Record<string, string> = {};
    for (const name of placed.kfuncs) {
      const a = kernelSymbol(name);
      if (a !== null) kfuncAddrs[name] = hex(a);
    }
    const logLines = loaded.log.split('\n');
    const record: KernelRecord = {
      name: opts.name ?? 'prog',
      ok: true,
      insn_count: prog.slots,
      jited: toHex(info.jited),
      xlated: toHex(info.xlated),
      xlated_resolved: toHex(r.xlatedResolved),
      resolve_notes: [...r.notes],
      jit_check: r.jitCheck,
      image_base: hex(info.ksyms[0] ?? 0n),
      call_base: hex(callBase),
      ksyms: info.ksyms.map(hex),
      func_lens: [...info.funcLens],
      kern_vm_start: r.kernVmStart === null ? null : hex(r.kernVmStart),
      user_vm_start: uvs === null ? null : hex(uvs),
      map_ptr: r.mapPtr === null ? null : hex(r.mapPtr),
      kfunc_addrs: kfuncAddrs,
      verified_insns: info.verifiedInsns,
      ld_imm64_checked: [...r.ldImm64Checked],
      verifier_log: logLines.filter((l) => l.startsWith('processed ')),
      load_s: Math.round(loadS * 1e4) / 1e4,
      stack_depths: stackDepths(logLines),
      return_thunk: hexOrNull(returnThunkTarget(info.jited, info.funcLens, info.ksyms)),
      this_cpu_off: r.thisCpuOff !== null ? hex(BigInt(r.thisCpuOff)) : hexOrNull(kernelSymbol('this_cpu_off')),
    };
    const inline = inlineHelperLoads(r.xlatedResolved);
    if (inline.length) record.inline_helper_loads = inline;
    if (opts.run ?? true) {
      const run = testRun(fd, ctx);
      record.retval = run.retval;
      record.ctx_out = toHex(run.ctxOut);
      record.run_ns = run.wallNs;
      record.arena_pages_after = {};
      record.arena_allocated_after = [];
      if (arena) {
        const probe = arena.probe();
        record.arena_allocated_after = probe.allocated;
        for (const pg of probe.allocated) {
          const page = arena.readPage(pg);
          if (page.some((b) => b !== 0)) record.arena_pages_after[String(pg)] = toHex(page);
        }
        if (record.map_ptr === null && probe.mapPtr !== null) record.map_ptr = hex(probe.mapPtr);
      }
    } else if (arena && record.map_ptr === null) {
      const probe = arena.probe();
      if (probe.mapPtr !== null) record.map_ptr = hex(probe.mapPtr);
    }
    return { record: orderLikeCorpus(record), ...(opts.verifierText ? { kernelText: kernelText(loaded.log) } : {}) };
  } finally {
    closeFd(fd);
    closeMaps(maps);
    closeFd(btfFd);
    arena?.close();
  }
}

/** The verifier's "stack depth 64+0+16" statistics line → [64, 0, 16]. */
function stackDepths(lines: readonly string[]): number[] {
  const l = lines.find((x) => x.startsWith('stack depth '));
  return l ? l.slice('stack depth '.length).split('+').map(Number) : [];
}

/** Level-2 log → one `N: (op) text` line per visited instruction, in index order. */
export function kernelText(log: string): string {
  const seen = new Map<number, string>();
  for (const line of log.split('\n')) {
    const m = /^(\d+): (\([0-9a-f]{2}\) .*?)(\s+;.*)?$/.exec(line);
    if (m && !seen.has(Number(m[1]))) seen.set(Number(m[1]), `${m[1]}: ${m[2]}`);
  }
  return [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => `${t}\n`).join('');
}

/** LDX right after the verifier's per-CPU move or a kernel-address ld_imm64 of the same register. */
export function inlineHelperLoads(xlated: Uint8Array): number[] {
  const v = new DataView(xlated.buffer, xlated.byteOffset, xlated.byteLength);
  const n = xlated.length / 8;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const code = v.getUint8(i * 8);
    if (code === 0x18) {
      i++;
      continue;
    }
    if (![0x61, 0x69, 0x71, 0x79].includes(code) || i === 0) continue;
    const src = v.getUint8(i * 8 + 1) >> 4;
    const p = (i - 1) * 8;
    const percpu = v.getUint8(p) === 0xbf && v.getInt16(p + 2, true) === -1 && (v.getUint8(p + 1) & 0x0f) === src;
    const q = (i - 2) * 8;
    const kaddr = i >= 2 && v.getUint8(q) === 0x18 && (v.getUint8(q + 1) & 0x0f) === src && v.getUint32(q + 12, true) >= 0xffff8000;
    if (percpu || kaddr) out.push(i);
  }
  return out;
}

const ORDER: readonly (keyof KernelRecord)[] = [
  'name', 'ok', 'insn_count', 'jited', 'xlated', 'xlated_resolved', 'resolve_notes', 'jit_check', 'image_base',
  'call_base', 'ksyms', 'func_lens', 'kern_vm_start', 'user_vm_start', 'map_ptr', 'kfunc_addrs', 'verified_insns',
  'ld_imm64_checked', 'retval', 'ctx_out', 'run_ns', 'arena_pages_after', 'arena_allocated_after', 'verifier_log',
  'load_s', 'inline_helper_loads', 'stack_depths', 'return_thunk', 'this_cpu_off',
];

function orderLikeCorpus(r: KernelRecord): KernelRecord {
  const out: Record<string, unknown> = {};
  for (const k of ORDER) if (r[k] !== undefined) out[k] = r[k];
  return out as unknown as KernelRecord;
}

export { PAGE_SIZE };
