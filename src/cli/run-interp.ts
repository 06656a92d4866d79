// `bpfjit run --engine interp`: the reference interpreter (src/interp) on the program as given, in the same
// environment as the emulator (context, the arena model with its prefault pages, arena kfuncs, Linux's
// helpers, global data) — a second, independent answer, with none of the front end or the JIT in it.
import { formatDiagnostic } from '../errors.js';
import type { MapInit } from '../emu/pipeline.js';
import type { RunEnv } from '../env.js';
import type { Dialect, Program } from '../isa/insn.js';
import { allocatedPages, arenaFromEnv, arenaPageDump, dumpPages } from '../arena/index.js';
import { arenaView, interpret, kfuncsFromTable, LINUX_HELPERS, type GlobalData, type InterpResult } from '../interp/index.js';
import { Exit } from './command.js';

export interface InterpRun {
  readonly prog: Program;
  readonly env: RunEnv;
  readonly dialect: Dialect;
  readonly ctx: Uint8Array;
  /** BPF instruction budget (the interpreter's default when absent). */
  readonly maxInsns?: number;
  readonly repeat: number;
  readonly trace: boolean;
  readonly json: boolean;
  readonly arenaDump: boolean;
  /** Maps other than the arena: global data (.data/.rodata/.bss) is modelled, other maps are not. */
  readonly maps: readonly MapInit[];
}

/** Single-element array maps of global-data sections, as the interpreter's `globals`. */
function globalData(maps: readonly MapInit[]): GlobalData[] {
  return maps
    .filter((m) => m.kind === 'array' && m.maxEntries === 1 && m.name.startsWith('.'))
    .map((m) => {
      const value = new Uint8Array(m.valueSize);
      if (m.initialValue) value.set(m.initialValue.subarray(0, m.valueSize));
      return { index: m.index, name: m.name, value, writable: !m.name.startsWith('.rodata') };
    });
}

const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;
const NAMES = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'ax'];

export function runInterpreter(o: InterpRun): number {
  const once = (trace: boolean): { res: InterpResult; pages: Record<string, string>; allocated: number[]; dump: ReturnType<typeof arenaPageDump> } => {
    const arena = arenaFromEnv(o.env);
    try {
      // The trace prints, after each instruction, the registers it changed (as the emulator's trace does).
      let prev: { pc: number; regs: bigint[] } | null = null;
      const report = (regs: readonly bigint[]): void => {
        if (!prev) return;
        const changed = regs.flatMap((v, r) => (v !== prev!.regs[r] ? [`${NAMES[r]}=${hex(v)}`] : []));
        console.log(`insn ${prev.pc}: ${changed.join(' ')}`);
      };
      const res = interpret(o.prog, {
        ctx: o.ctx,
        dialect: o.dialect,
        arena: arena ? arenaView(arena) : null,
        kfuncs: kfuncsFromTable(o.env.kfuncs),
        helpers: LINUX_HELPERS,
        globals: globalData(o.maps),
        ...(o.maxInsns === undefined ? {} : { maxInsns: o.maxInsns }),
        ...(trace
          ? {
              trace: (pc: number, regs: readonly bigint[]) => {
                report(regs);
                prev = { pc, regs: [...regs] };
              },
            }
          : {}),
      });
      // The last instruction (exit, or the one that faulted) changed nothing.
      if (prev) report((prev as { regs: bigint[] }).regs);
      return {
        res,
        pages: arena ? dumpPages(arena) : {},
        allocated: arena ? allocatedPages(arena) : [],
        dump: o.arenaDump && arena ? arenaPageDump(arena) : [],
      };
    } finally {
      arena?.dispose();
    }
  };

  const { res, pages, allocated, dump } = once(o.trace && !o.json);
  let perRunNs: number | null = null;
  if (o.repeat > 1 && !res.fault) {
    const t0 = process.hrtime.bigint();
    for (let i = 1; i < o.repeat; i++) once(false);
    perRunNs = Number(process.hrtime.bigint() - t0) / (o.repeat - 1);
  }
  const r0 = res.fault ? 0n : res.r0;
  const ctxOut = Buffer.from(res.ctx ?? new Uint8Array(0)).toString('hex');
  const fault = res.fault ? formatDiagnostic(res.fault) : null;
  if (o.json) {
    console.log(JSON.stringify({
      engine: 'interp',
      retval: Number(r0 & 0xffffffffn),
      r0: hex(r0),
      ctx: ctxOut,
      arenaPages: pages,
      arenaAllocated: allocated,
      bpfInsns: res.insns,
      output: res.memory.printed,
      ...(o.arenaDump ? { arenaDump: dump } : {}),
      perRunNs,
      fault: fault === null ? null : { message: fault, insn: res.fault!.insn ?? null },
    }));
  } else {
    for (const line of res.memory.printed) console.log(`printk: ${line}`);
    console.log(`retval ${Number(r0 & 0xffffffffn)} (r0 ${hex(r0)})`);
    if (o.ctx.length > 0) console.log(`ctx ${ctxOut}`);
    console.log(`BPF instructions: ${res.insns}`);
    if (perRunNs !== null) console.log(`time per run: ${(perRunNs / 1000).toFixed(2)} us (${o.repeat} runs, interpreter)`);
    if (o.arenaDump) {
      console.log(`arena: ${dump.length} page(s) allocated`);
      for (const p of dump) console.log(`arena page ${p.pgoff}: kernel ${p.kernAddr} user ${p.userAddr ?? '-'}: ${p.bytes === null ? 'zero' : p.bytes}`);
    }
  }
  if (fault) {
    console.error(`bpfjit run: ${/budget|instruction limit/i.test(fault) ? 'limit' : 'fault'}: ${fault}`);
    return Exit.BAD_INPUT;
  }
  return Exit.OK;
}
