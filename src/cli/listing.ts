// The annotated listing behind `bpfjit dump`: each BPF instruction (index, kernel syntax) followed by
// the x86-64 it became (offset, bytes, Intel syntax by iced-x86), with branch targets named as BPF
// instruction numbers, arena accesses tied to their exception-table entries, and optional C lines.
import { Decoder, DecoderOptions, Formatter, FormatterSyntax, FlowControl, MemorySizeOptions, OpKind, type Instruction } from 'iced-x86';
import type { Insn, Program } from '../isa/insn.js';
import { printInsn, type PrintOptions } from '../isa/print.js';
import type { ExEntry, JitFunction, JitResult } from '../jit/types.js';
import { findExEntry } from '../jit/extable.js';

const X86_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

export interface X86Line {
  /** Offset in the function's image. */
  readonly offset: number;
  readonly bytes: string;
  readonly text: string;
  /** Branch/call target: a BPF instruction of this function, the epilogue, another function, or an address. */
  readonly target?: string;
  /** Exception-table entry when this instruction is an arena access. */
  readonly extable?: { readonly clear: string | null; readonly resume: number; readonly kind: ExEntry['kind'] };
}

export interface ListingInsn {
  readonly pc: number;
  readonly text: string;
  readonly source?: string;
  readonly notes: readonly string[];
  readonly x86: readonly X86Line[];
}

export interface ListingFunction {
  readonly index: number;
  readonly imageBase: string;
  readonly size: number;
  readonly stackDepth: number;
  readonly prologue: readonly X86Line[];
  readonly insns: readonly ListingInsn[];
}

export interface ListingOptions {
  readonly print?: PrintOptions;
  /** C source line for an instruction (from BTF line info), shown above it when it changes. */
  readonly sourceLine?: (pc: number) => string | undefined;
  /** Name of a call target address (helpers, kfuncs). */
  readonly symbol?: (addr: bigint) => string | undefined;
}

/**
 * iced-x86's JS formatter prints some 64-bit immediates truncated (`mov rdi, 8` for movabs 0x100000008),
 * so movabs immediates are written from the decoded value.
 */
function formatInsn(fmt: Formatter, insn: Instruction): string {
  const text = fmt.format(insn);
  if (insn.opCount !== 2 || insn.op1Kind !== OpKind.Immediate64) return text;
  return text.replace(/[^ ,]+$/, `0x${BigInt.asUintN(64, insn.immediate64).toString(16)}`);
}

function hexAddr(a: bigint): string {
  return `0x${a.toString(16)}`;
}

/** Decodes [start, end) of a function image into annotated lines. */
function decodeRange(
  fn: JitFunction,
  start: number,
  end: number,
  targetName: (addr: bigint) => string | undefined,
  fmt: Formatter,
): X86Line[] {
  const out: X86Line[] = [];
  if (end <= start) return out;
  const decoder = new Decoder(64, fn.image.subarray(start, end), DecoderOptions.None);
  decoder.ip = fn.imageBase + BigInt(start);
  while (decoder.canDecode) {
    const insn = decoder.decode();
    const offset = Number(insn.ip - fn.imageBase);
    const flow = insn.flowControl;
    let target: string | undefined;
    if (flow === FlowControl.UnconditionalBranch || flow === FlowControl.ConditionalBranch || flow === FlowControl.Call) {
      const t = insn.nearBranchTarget;
      target = targetName(t) ?? hexAddr(t);
    }
    const found = findExEntry(fn.extable, offset);
    const ex = found?.offset === offset ? found : undefined;
    out.push({
      offset,
      bytes: Buffer.from(fn.image.subarray(offset, offset + insn.length)).toString('hex'),
      text: formatInsn(fmt, insn),
      ...(target !== undefined ? { target } : {}),
      ...(ex
        ? { extable: { clear: ex.clearReg === null ? null : X86_NAMES[ex.clearReg]!, resume: ex.offset + ex.length, kind: ex.kind } }
        : {}),
    });
    insn.free();
  }
  decoder.free();
  return out;
}

/** Notes that explain what a BPF instruction became, beyond the x86 text. */
function notesFor(insn: Insn, x86: readonly X86Line[]): string[] {
  const notes: string[] = [];
  const mode = insn.code & 0xe0;
  const cls = insn.code & 7;
  if ((cls === 1 || cls === 2 || cls === 3) && (mode === 0xa0 || (cls === 1 && mode === 0xc0) || (cls === 3 && mode === 0xe0))) {
    notes.push('arena access: [ptr + r12 + off], a fault is fixed up by the exception table');
  }
  if (insn.code === 0xbf && insn.off === 1 && insn.imm === 0x10000 && x86.length > 1) {
    notes.push('cast to user: upper 32 bits of user_vm_start merged into a non-NULL pointer');
  }
  return notes;
}

export function buildListing(prog: Program, result: JitResult, opts: ListingOptions = {}): ListingFunction[] {
  const fmt = new Formatter(FormatterSyntax.Intel);
  fmt.firstOperandCharIndex = 8;
  fmt.hexPrefix = '0x';
  fmt.hexSuffix = '';
  fmt.uppercaseHex = false;
  fmt.spaceAfterOperandSeparator = true;
  fmt.branchLeadingZeros = false;
  fmt.memorySizeOptions = MemorySizeOptions.Always;
  // Every function's instruction starts, for naming branch and call targets.
  const starts = new Map<bigint, string>();
  result.functions.forEach((fn, fi) => {
    starts.set(fn.imageBase, fi === 0 ? 'func 0' : `func ${fi} (insn ${fn.firstPc})`);
  });
  try {
    return result.functions.map((fn, fi) => {
      // Start address of each instruction's code, ascending: a branch into the middle of one (the
      // cmpxchg loop of fetch and/or/xor) is named `insn N+off`.
      const bodyStarts: { addr: bigint; pc: number }[] = [];
      for (const insn of prog.insns) {
        if (insn.pc < fn.firstPc || insn.pc >= fn.endPc) continue;
        const a = fn.imageBase + BigInt(fn.addrs[insn.pc - fn.firstPc]!);
        const last = bodyStarts[bodyStarts.length - 1];
        if (last === undefined || last.addr !== a) bodyStarts.push({ addr: a, pc: insn.pc });
      }
      const end = fn.imageBase + BigInt(fn.image.length);
      const insnAt = (addr: bigint): string | undefined => {
        if (bodyStarts.length === 0 || addr < bodyStarts[0]!.addr || addr >= end) return undefined;
        let lo = 0;
        let hi = bodyStarts.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (bodyStarts[mid]!.addr <= addr) lo = mid;
          else hi = mid - 1;
        }
        const s0 = bodyStarts[lo]!;
        return addr === s0.addr ? `insn ${s0.pc}` : `insn ${s0.pc}+0x${(addr - s0.addr).toString(16)}`;
      };
      const targetName = (addr: bigint): string | undefined => starts.get(addr) ?? insnAt(addr) ?? opts.symbol?.(addr);
      const body = prog.insns.filter((i) => i.pc >= fn.firstPc && i.pc < fn.endPc);
      const prologue = decodeRange(fn, 0, fn.addrs[0]!, targetName, fmt);
      let lastSource: string | undefined;
      const insns = body.map((insn, k) => {
        const next = body[k + 1];
        const start = fn.addrs[insn.pc - fn.firstPc]!;
        const end = next ? fn.addrs[next.pc - fn.firstPc]! : fn.image.length;
        const x86 = decodeRange(fn, start, end, targetName, fmt);
        const src = opts.sourceLine?.(insn.pc);
        const show = src !== undefined && src !== lastSource ? src : undefined;
        if (src !== undefined) lastSource = src;
        return {
          pc: insn.pc,
          text: printInsn(insn, opts.print ?? { dialect: 'kernel-xlated' }),
          ...(show !== undefined ? { source: show } : {}),
          notes: notesFor(insn, x86),
          x86,
        };
      });
      return { index: fi, imageBase: hexAddr(fn.imageBase), size: fn.image.length, stackDepth: fn.stackDepth, prologue, insns };
    });
  } finally {
    fmt.free();
  }
}

function x86Text(l: X86Line): string {
  let s = `    ${l.offset.toString(16).padStart(4, '0')}: ${l.bytes.padEnd(24)} ${l.text}`;
  if (l.target !== undefined) s += `   ; → ${l.target}`;
  if (l.extable) {
    const effect = l.extable.kind === 'load' ? `${l.extable.clear ?? '?'} = 0` : l.extable.kind === 'store' ? 'store dropped' : 'skipped, registers unchanged';
    s += `   ; on fault: ${effect}, resume at ${l.extable.resume.toString(16).padStart(4, '0')}`;
  }
  return s;
}

export function renderListing(fns: readonly ListingFunction[]): string {
  const out: string[] = [];
  for (const fn of fns) {
    out.push(`func ${fn.index} at ${fn.imageBase}: ${fn.size} bytes, stack ${fn.stackDepth}`);
    out.push('  prologue');
    for (const l of fn.prologue) {
      let line = x86Text(l);
      if (/^mov(abs)?\s+r12,/.test(l.text)) line += '   ; r12 = kern_vm_start (arena base)';
      out.push(line);
    }
    for (const insn of fn.insns) {
      if (insn.source !== undefined) out.push(`  ; ${insn.source}`);
      out.push(`  ${String(insn.pc).padStart(4)}: ${insn.text}`);
      for (const n of insn.notes) out.push(`        ; ${n}`);
      for (const l of insn.x86) out.push(x86Text(l));
    }
  }
  return `${out.join('\n')}\n`;
}
