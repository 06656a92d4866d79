// The reference interpreter: runs a Program instruction by instruction with RFC 9669 semantics plus
// Linux's behaviour (bpf-to-bpf frames, helpers, kfuncs, arena). It shares only the instruction model
// (src/isa) with the JIT, so the two can check each other.
import type { Diagnostic } from '../errors.js';
import { AddrSpaceCast, AluOp, AtomicOp, Class, JmpOp, LD_IMM64, Mode, MovOff, PseudoCall, PseudoLd, SIZE_BYTES, insnClass, insnMode, insnSize } from '../isa/opcodes.js';
import { imm64, slotIndex, type Dialect, type Insn, type Program } from '../isa/insn.js';
import type { ArenaView } from './arena.js';
import { alu32, alu64, endian, signExtend } from './alu.js';
import { ArenaTags } from './arena-tags.js';
import { Fault, Layout, Memory, hex } from './memory.js';
import { execMem, type Regs } from './memops.js';

/** What a helper or kfunc sees. */
export interface HelperCall {
  /** r1..r5. */
  readonly args: readonly [bigint, bigint, bigint, bigint, bigint];
  readonly memory: Memory;
  readonly arena: ArenaView | null;
  /** Slot index of the call. */
  readonly pc: number;
}
/** Returns r0. Throw Fault (from ./memory.js) to stop the program with a message. */
export type HelperFn = (call: HelperCall) => bigint;

export interface InterpOptions {
  /** Input memory (conformance style): r1 = pointer to a copy, r2 = its length. */
  readonly mem?: Uint8Array;
  /** Context bytes: r1 = pointer to a copy when `mem` is absent. */
  readonly ctx?: Uint8Array;
  /** Helper functions by id (call imm, src_reg 0; callx takes the id from the register). */
  readonly helpers?: Readonly<Record<number, HelperFn>>;
  /** Kernel functions by call imm (src_reg 2). */
  readonly kfuncs?: Readonly<Record<number, HelperFn>>;
  /** Instruction budget (default 10 000 000): a runaway program stops with a fault. */
  readonly maxInsns?: number;
  readonly arena?: ArenaView | null;
  /** 'standard' (default) or 'kernel-xlated' (PROBE_* modes, r11, plain ld_imm64). */
  readonly dialect?: Dialect;
  /**
   * ld_imm64 with a pseudo src_reg. Default: the raw-bytecode placeholders of the corpus
   * (src 1 = the arena map itself, src 2 = arena user address + second imm).
   */
  readonly ldImm64?: (insn: Insn) => bigint;
  /** Called before each instruction (debugging). */
  readonly trace?: (pc: number, regs: readonly bigint[]) => void;
  /**
   * Global data (.data/.rodata/.bss: array maps of one element) by map index: ld_imm64 of a map value
   * (src 2 or 6, imm = the index) points into `value`, which the program reads and writes in place.
   */
  readonly globals?: readonly GlobalData[];
}

export interface GlobalData {
  readonly index: number;
  readonly name: string;
  readonly value: Uint8Array;
  readonly writable: boolean;
}

export interface InterpResult {
  /** r0 at the final exit (0 after a fault). */
  readonly r0: bigint;
  /** The input memory after the run (when given). */
  readonly mem?: Uint8Array;
  /** The context after the run (when given). */
  readonly ctx?: Uint8Array;
  /** Why the program stopped early, as `insn N: reason`. */
  readonly fault?: Diagnostic;
  /** Instructions executed. */
  readonly insns: number;
  readonly memory: Memory;
}

export const DEFAULT_MAX_INSNS = 10_000_000;
/** BPF_MAX_LOOPS: iterations a may_goto allows before it takes its branch. */
export const MAY_GOTO_BUDGET = 8 * 1024 * 1024;
/** The token the corpus' raw ld_imm64 (src 1) yields for the arena map: in no region, so it cannot be dereferenced. */
export const ARENA_MAP_TOKEN = 0xffff_8880_0bad_0000n;

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);

interface Frame {
  readonly returnPc: number;
  readonly saved: readonly bigint[]; // r6..r10
  readonly savedTags: readonly number[]; // arena-pointer tags of r6..r9
}

export function interpret(prog: Program, opts: InterpOptions = {}): InterpResult {
  const dialect = opts.dialect ?? 'standard';
  const maxReg = dialect === 'kernel-xlated' ? 11 : 10;
  const maxInsns = opts.maxInsns ?? DEFAULT_MAX_INSNS;
  const memory = new Memory();
  memory.arena = opts.arena ?? null;
  const stackSize = Layout.FRAME_SIZE * Layout.MAX_FRAMES;
  memory.addRegion('stack', Layout.STACK_TOP - BigInt(stackSize), new Uint8Array(stackSize));
  const ctx = opts.ctx ? memory.addRegion('ctx', Layout.CTX_BASE, opts.ctx.slice()) : undefined;
  const mem = opts.mem ? memory.addRegion('mem', Layout.MEM_BASE, opts.mem.slice()) : undefined;
  const globals = new Map((opts.globals ?? []).map((g) => [g.index, memory.addExtraRegion(g.name, g.value, g.writable).base]));
  const resolveLd = (insn: Insn): bigint | undefined => {
    const base = globals.get(insn.imm);
    const valueLd = insn.src === PseudoLd.MAP_VALUE || insn.src === PseudoLd.MAP_IDX_VALUE;
    return base !== undefined && valueLd ? base + BigInt((insn.imm2 ?? 0) >>> 0) : opts.ldImm64?.(insn);
  };

  const r = new BigUint64Array(12);
  if (mem) {
    r[1] = mem.base;
    r[2] = BigInt(mem.bytes.length);
  } else if (ctx) {
    r[1] = ctx.base;
  }
  r[10] = Layout.STACK_TOP;

  const checkReg = (n: number): number => {
    if (n > maxReg) throw new Fault(`invalid register r${n}`);
    return n;
  };
  const regs: Regs = {
    get: (n) => r[checkReg(n)]!,
    set: (n, v) => {
      if (checkReg(n) === 10) throw new Fault('r10 (frame pointer) is read-only');
      r[n] = v; // BigUint64Array stores modulo 2^64
    },
  };

  // The verifier's arena-pointer types (its ALU64 → ALU32 rewrite); an xlated program has it applied already.
  const tags = dialect === 'standard' ? new ArenaTags(prog.slots) : null;
  const index = slotIndex(prog);
  const frames: Frame[] = [];
  let pc = 0;
  let count = 0;
  let mayGoto = MAY_GOTO_BUDGET;

  const goto = (target: number): number => {
    if (target < 0 || target >= prog.slots) {
      throw new Fault(`jump target ${target} is outside the program (slots 0..${prog.slots - 1})`);
    }
    if (index[target] === -1) throw new Fault(`jump target ${target} is the second slot of ld_imm64`);
    return target;
  };

  const callHelper = (fn: HelperFn | undefined, what: string): void => {
    if (!fn) throw new Fault(`call to unknown ${what}`);
    const args = [r[1]!, r[2]!, r[3]!, r[4]!, r[5]!] as const;
    r[0] = u64(fn({ args, memory, arena: memory.arena, pc }));
    tags?.set(0, false); // helpers and kfuncs return scalars (also bpf_arena_alloc_pages)
  };

  const finish = (fault?: Diagnostic): InterpResult => ({
    r0: fault ? 0n : r[0]!,
    ...(mem ? { mem: mem.bytes } : {}),
    ...(ctx ? { ctx: ctx.bytes } : {}),
    ...(fault ? { fault } : {}),
    insns: count,
    memory,
  });

  try {
    for (;;) {
      if (pc >= prog.slots) return finish({ insn: pc, message: 'fell off the end of the program (no exit)' });
      const insn = prog.insns[index[pc]!]!;
      if (count === maxInsns) {
        return finish({ insn: pc, message: `instruction budget of ${maxInsns} exhausted (runaway program?)` });
      }
      count++;
      opts.trace?.(pc, Array.from(r));
      const cls = insnClass(insn.code);
      let next = pc + 1;
      switch (cls) {
        case Class.ALU:
        case Class.ALU64:
          execAlu(insn, cls === Class.ALU64, regs, memory, tags, pc);
          break;
        case Class.LD:
          if (insn.code !== LD_IMM64) {
            throw new Fault('legacy packet access (LD ABS/IND) is not supported');
          }
          regs.set(insn.dst, loadImm64(insn, dialect, memory.arena, resolveLd));
          tags?.set(insn.dst, false);
          next = pc + 2;
          break;
        case Class.LDX:
        case Class.ST:
        case Class.STX:
          if (tags) memWithTags(insn, regs, memory, tags);
          else execMem(insn, regs, memory, dialect);
          break;
        case Class.JMP:
        case Class.JMP32: {
          const jmp32 = cls === Class.JMP32;
          const op = insn.code & 0xf0;
          const useReg = (insn.code & 0x08) !== 0;
          if (op === JmpOp.JA) {
            if (useReg) throw new Fault('ja takes no register operand');
            next = goto(pc + 1 + (jmp32 ? insn.imm : insn.off));
          } else if (op === JmpOp.CALL) {
            if (jmp32) throw new Fault('call does not exist in the JMP32 class');
            if (useReg) {
              callHelper(opts.helpers?.[Number(BigInt.asIntN(32, regs.get(insn.dst)))], `helper ${regs.get(insn.dst)} (callx)`);
            } else if (insn.src === PseudoCall.HELPER) {
              callHelper(opts.helpers?.[insn.imm], `helper function ${insn.imm}`);
            } else if (insn.src === PseudoCall.KFUNC) {
              callHelper(opts.kfuncs?.[insn.imm], `kfunc ${hex(BigInt(insn.imm >>> 0))}`);
            } else if (insn.src === PseudoCall.CALL) {
              if (frames.length + 1 >= Layout.MAX_FRAMES) {
                throw new Fault(`call depth exceeds ${Layout.MAX_FRAMES} frames`);
              }
              const target = goto(pc + 1 + insn.imm);
              frames.push({ returnPc: pc + 1, saved: [r[6]!, r[7]!, r[8]!, r[9]!, r[10]!], savedTags: tags ? Array.from(tags.regs.subarray(6, 10)) : [] });
              r[10] = Layout.STACK_TOP - BigInt(frames.length * Layout.FRAME_SIZE);
              next = target;
            } else {
              throw new Fault(`invalid call src_reg ${insn.src}`);
            }
          } else if (op === JmpOp.EXIT) {
            if (jmp32) throw new Fault('exit does not exist in the JMP32 class');
            const frame = frames.pop();
            if (!frame) return finish();
            [r[6], r[7], r[8], r[9], r[10]] = frame.saved;
            if (tags) {
              tags.regs.set(frame.savedTags, 6);
              const top = Layout.STACK_TOP - BigInt((frames.length + 1) * Layout.FRAME_SIZE);
              tags.dropFrame(top - BigInt(Layout.FRAME_SIZE), top);
            }
            next = frame.returnPc;
          } else if (op === JmpOp.JCOND && !jmp32) {
            if (insn.src !== 0) throw new Fault(`invalid JCOND src_reg ${insn.src} (0 = may_goto)`);
            // may_goto: falls through while the loop budget lasts, then takes the branch.
            if (mayGoto > 0) mayGoto--;
            else next = goto(pc + 1 + insn.off);
          } else {
            const a = regs.get(insn.dst);
            const b = useReg ? regs.get(insn.src) : u64(BigInt(insn.imm));
            if (compare(op, jmp32 ? u32(a) : a, jmp32 ? u32(b) : b, jmp32 ? 32 : 64)) next = goto(pc + 1 + insn.off);
          }
          break;
        }
      }
      pc = next;
    }
  } catch (e) {
    if (e instanceof Fault) return finish({ insn: pc, message: e.message });
    throw e;
  }
}

function compare(op: number, a: bigint, b: bigint, bits: number): boolean {
  const sa = BigInt.asIntN(bits, a);
  const sb = BigInt.asIntN(bits, b);
  switch (op) {
    case JmpOp.JEQ:
      return a === b;
    case JmpOp.JNE:
      return a !== b;
    case JmpOp.JGT:
      return a > b;
    case JmpOp.JGE:
      return a >= b;
    case JmpOp.JLT:
      return a < b;
    case JmpOp.JLE:
      return a <= b;
    case JmpOp.JSET:
      return (a & b) !== 0n;
    case JmpOp.JSGT:
      return sa > sb;
    case JmpOp.JSGE:
      return sa >= sb;
    case JmpOp.JSLT:
      return sa < sb;
    case JmpOp.JSLE:
      return sa <= sb;
  }
  throw new Fault(`invalid jump operation 0x${op.toString(16)}`);
}

function execAlu(insn: Insn, is64: boolean, regs: Regs, memory: Memory, tags: ArenaTags | null, pc: number): void {
  const op = insn.code & 0xf0;
  const useReg = (insn.code & 0x08) !== 0;
  if (tags && (op === AluOp.END || op === AluOp.NEG || op === AluOp.MOV)) {
    // Scalars, except a 64-bit register copy (keeps the type) and the cast to the kernel's address space.
    const cast = is64 && useReg && insn.off === MovOff.ADDR_SPACE_CAST && insn.imm === AddrSpaceCast.TO_KERN;
    const copy = is64 && useReg && op === AluOp.MOV && insn.off === 0;
    const arena = cast || (copy && tags.regs[insn.src] === 1);
    execAlu(insn, is64, regs, memory, null, pc);
    tags.set(insn.dst, arena);
    return;
  }
  if (op === AluOp.END) {
    if (is64 && useReg) throw new Fault('bswap (ALU64 END) takes no source bit');
    regs.set(insn.dst, endian(is64, useReg, regs.get(insn.dst), insn.imm));
    return;
  }
  if (op === AluOp.NEG) {
    if (useReg) throw new Fault('neg takes no source operand');
    regs.set(insn.dst, is64 ? alu64(op, 0, regs.get(insn.dst), 0n) : alu32(op, 0, regs.get(insn.dst), 0n));
    return;
  }
  if (op === AluOp.MOV && useReg && insn.off !== 0) {
    const src = regs.get(insn.src);
    if (is64 && insn.off === MovOff.ADDR_SPACE_CAST) return regs.set(insn.dst, addrSpaceCast(insn.imm, src, memory));
    if (is64 && (insn.off === 8 || insn.off === 16 || insn.off === 32)) return regs.set(insn.dst, signExtend(src, insn.off));
    if (!is64 && (insn.off === 8 || insn.off === 16)) return regs.set(insn.dst, u32(signExtend(src, insn.off)));
    throw new Fault(`invalid offset ${insn.off} for mov${is64 ? '' : '32'}`);
  }
  if (insn.off !== 0 && op !== AluOp.DIV && op !== AluOp.MOD) {
    throw new Fault(`invalid offset ${insn.off} (must be 0 for this ALU operation)`);
  }
  // ALU64 immediates are sign-extended; 32-bit operations use the immediate's low 32 bits (unsigned).
  const src = useReg ? regs.get(insn.src) : u64(BigInt(insn.imm));
  const dst = op === AluOp.MOV ? 0n : regs.get(insn.dst);
  // The verifier runs ALU64 with an arena-pointer operand as ALU32 (tags.alu decides, and types dst).
  const narrow = tags ? tags.alu(pc, is64, insn.dst, useReg ? insn.src : undefined) : !is64;
  const wide = is64 && !narrow;
  regs.set(insn.dst, wide ? alu64(op, insn.off, dst, src) : alu32(op, insn.off, dst, src));
}

/**
 * A standard-dialect load/store/atomic with the verifier's spill tracking: an 8-byte store of an arena pointer
 * to the stack keeps its type, an 8-byte load from such a slot gives it back; loads give scalars otherwise.
 */
function memWithTags(insn: Insn, regs: Regs, memory: Memory, tags: ArenaTags): void {
  const cls = insnClass(insn.code);
  const mode = insnMode(insn.code);
  const size = SIZE_BYTES[insnSize(insn.code)]!;
  const at = (reg: number): bigint => u64(regs.get(reg) + BigInt(insn.off));
  const spillOf = (reg: number): { value: bigint } | undefined => (tags.regs[reg] === 1 ? { value: regs.get(reg) } : undefined);
  const atomic = cls === Class.STX && mode === Mode.ATOMIC;
  if (cls === Class.LDX || (atomic && insn.imm === AtomicOp.LOAD_ACQ)) {
    const addr = at(insn.src);
    execMem(insn, regs, memory, 'standard');
    tags.set(insn.dst, size === 8 && mode !== Mode.MEMSX && tags.fill(addr, regs.get(insn.dst)));
    return;
  }
  const addr = at(insn.dst);
  if (!atomic || insn.imm === AtomicOp.STORE_REL) {
    const spill = cls === Class.STX ? spillOf(insn.src) : undefined;
    execMem(insn, regs, memory, 'standard');
    tags.store(addr, size, spill);
    return;
  }
  // Read-modify-write: the fetched register gets what the slot held; the slot becomes plain data.
  const fetchReg = insn.imm === AtomicOp.CMPXCHG ? 0 : insn.imm === AtomicOp.XCHG || (insn.imm & AtomicOp.FETCH) !== 0 ? insn.src : -1;
  const spilled = size === 8 ? tags.spilledAt(addr) : undefined;
  const wasSpill = spilled !== undefined && tags.fill(addr, memory.load(addr, 8));
  execMem(insn, regs, memory, 'standard');
  tags.store(addr, size);
  if (fetchReg >= 0) tags.set(fetchReg, wasSpill && regs.get(fetchReg) === spilled);
}

function addrSpaceCast(imm: number, src: bigint, memory: Memory): bigint {
  if (imm === AddrSpaceCast.TO_KERN) return u32(src); // as(1) → as(0): a 32-bit move
  if (imm === AddrSpaceCast.TO_USER) {
    const arena = memory.arena;
    if (!arena) throw new Fault('addr_space_cast to user space without an arena');
    const low = u32(src);
    if (arena.noUserConv || low === 0n) return low; // NULL stays NULL
    return (arena.userVmStart & ~0xffffffffn) | low;
  }
  throw new Fault(`invalid addr_space_cast imm 0x${(imm >>> 0).toString(16)} (1 = to kernel, 0x10000 = to user)`);
}

function loadImm64(insn: Insn, dialect: Dialect, arena: ArenaView | null, resolve: (insn: Insn) => bigint | undefined): bigint {
  if (insn.src === PseudoLd.NONE || dialect === 'kernel-xlated') return imm64(insn);
  const resolved = resolve(insn);
  if (resolved !== undefined) return u64(resolved);
  if (arena && insn.imm === 0) {
    if (insn.src === PseudoLd.MAP_FD || insn.src === PseudoLd.MAP_IDX) return ARENA_MAP_TOKEN;
    if (insn.src === PseudoLd.MAP_VALUE || insn.src === PseudoLd.MAP_IDX_VALUE) {
      return u64(arena.userVmStart + BigInt((insn.imm2 ?? 0) >>> 0));
    }
  }
  throw new Fault(`ld_imm64 with src_reg ${insn.src} (map ${insn.imm}) needs a map the interpreter was not given`);
}
