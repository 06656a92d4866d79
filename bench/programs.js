// bench — the benchmark programs, generated so any size can be made: three kernel-xlated shapes for the JIT
// (straight-line ALU, mixed memory/branch/call, arena-heavy PROBE_MEM32) and the emulated loops, written in
// the verifier-log syntax and run through the same front end as `bpfjit run`.

/** A deterministic PRNG (xorshift32), so every run benchmarks the same programs. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Bytecode writer: one 8-byte slot per call. */
class Writer {
  constructor(slots) {
    this.bytes = new Uint8Array(slots * 8);
    this.view = new DataView(this.bytes.buffer);
    this.pc = 0;
  }
  insn(code, dst, src, off, imm) {
    const b = this.pc * 8;
    this.bytes[b] = code;
    this.bytes[b + 1] = ((src & 15) << 4) | (dst & 15);
    this.view.setInt16(b + 2, off, true);
    this.view.setInt32(b + 4, imm | 0, true);
    this.pc++;
  }
  ldImm64(dst, lo, hi) {
    this.insn(0x18, dst, 0, 0, lo);
    (this.second ??= new Set()).add(this.pc);
    this.insn(0, 0, 0, 0, hi);
  }
  /** Moves jumps that land on the second slot of an ld_imm64 one slot further (an instruction start). */
  fixJumps(jumps) {
    for (const pc of jumps) {
      const off = this.view.getInt16(pc * 8 + 2, true);
      if (this.second?.has(pc + 1 + off)) this.view.setInt16(pc * 8 + 2, off + 1, true);
    }
  }
}

// Opcodes used below (class | op | source).
const ALU64_K = [0x07, 0x17, 0x47, 0x57, 0xa7, 0xb7, 0x27]; // add sub or and xor mov mul
const ALU64_X = [0x0f, 0x1f, 0x4f, 0x5f, 0xaf, 0xbf, 0x2f]; // same, register source
const ALU32_K = [0x04, 0x14, 0x44, 0x54, 0xa4, 0xb4, 0x24];
const ALU32_X = [0x0c, 0x1c, 0x4c, 0x5c, 0xac, 0xbc, 0x2c];
const SHIFT_K = [0x67, 0x77, 0xc7, 0x64, 0x74, 0xc4]; // lsh rsh arsh (64, then 32)
const SHIFT_X = [0x6f, 0x7f, 0xcf]; // BMI2 shlx/shrx/sarx
const JMP_X = [0x1d, 0x2d, 0x3d, 0x5d, 0x6d, 0x7d, 0xad, 0xbd, 0x1e, 0x2e, 0x5e]; // jeq jgt jge jne jsgt jsge jlt jle, jmp32
const JMP_K = [0x15, 0x25, 0x35, 0x55, 0x65, 0xa5, 0xb5, 0x16, 0x56];

/** One random ALU instruction on r0..r9 (r10 is read-only). */
function aluInsn(w, r) {
  const k = r() % 16;
  const dst = r() % 10;
  const src = r() % 10;
  if (k < 5) w.insn(ALU64_K[r() % ALU64_K.length], dst, 0, 0, (r() % 2000) - 1000);
  else if (k < 9) w.insn(ALU64_X[r() % ALU64_X.length], dst, src, 0, 0);
  else if (k < 11) w.insn(ALU32_K[r() % ALU32_K.length], dst, 0, 0, r() | 0);
  else if (k < 13) w.insn(ALU32_X[r() % ALU32_X.length], dst, src, 0, 0);
  else if (k < 14) w.insn(SHIFT_K[r() % SHIFT_K.length], dst, 0, 0, 1 + (r() % 31));
  else if (k < 15) w.insn(SHIFT_X[r() % SHIFT_X.length], dst, src, 0, 0);
  else w.insn(0x87, dst, 0, 0, 0); // neg
}

function finish(w, slots) {
  while (w.pc < slots - 2) w.insn(0x07, 0, 0, 0, 1);
  w.insn(0xb7, 0, 0, 0, 0); // r0 = 0
  w.insn(0x95, 0, 0, 0, 0); // exit
  return w.bytes;
}

/** Straight-line ALU code (64/32-bit, immediate and register, shifts, mul, neg): `n` slots. */
export function straightAlu(n) {
  const w = new Writer(n);
  const r = rng(1);
  while (w.pc < n - 2) aluInsn(w, r);
  return finish(w, n);
}

/**
 * Mixed code: stack and context loads/stores, forward conditional jumps (mostly short, some across
 * thousands of instructions), ld_imm64 and helper calls among ALU instructions; `n` slots.
 */
export function mixedMemBranch(n) {
  const w = new Writer(n);
  const r = rng(2);
  const jumps = [];
  w.insn(0xbf, 6, 1, 0, 0); // r6 = r1 (context)
  while (w.pc < n - 4) {
    const k = r() % 20;
    const left = n - 3 - w.pc; // slots before the final r0 = 0; exit
    if (k < 4) {
      const size = [0x18, 0x00, 0x08, 0x10][r() % 4]; // dw w h b
      w.insn(0x61 | size, r() % 6, 10, -8 * (1 + (r() % 60)), 0); // rX = *(size *)(r10 - off)
    } else if (k < 7) {
      const size = [0x18, 0x00][r() % 2];
      if (r() % 2) w.insn(0x63 | size, 10, r() % 10, -8 * (1 + (r() % 60)), 0); // *(r10 - off) = rX
      else w.insn(0x62 | size, 10, 0, -8 * (1 + (r() % 60)), r() | 0); // *(r10 - off) = imm
    } else if (k < 9) {
      w.insn(0x79, r() % 6, 6, 8 * (r() % 8), 0); // rX = *(u64 *)(r6 + off)
    } else if (k < 10) {
      w.insn(0x7b, 6, r() % 6, 8 * (r() % 8), 0); // *(u64 *)(r6 + off) = rX
    } else if (k < 13 && left > 3) {
      const far = r() % 16 === 0;
      const span = Math.min(left - 2, far ? 1 + (r() % 4000) : 1 + (r() % 40));
      jumps.push(w.pc);
      if (r() % 2) w.insn(JMP_X[r() % JMP_X.length], r() % 10, r() % 10, span, 0);
      else w.insn(JMP_K[r() % JMP_K.length], r() % 10, 0, span, (r() % 200) - 100);
    } else if (k < 14 && left > 3) {
      w.ldImm64(r() % 10, r() | 0, r() | 0);
    } else if (k < 15) {
      w.insn(0x85, 0, 0, 0, 0x1000 + (r() % 0x10000)); // call helper (imm = target - call base)
    } else {
      aluInsn(w, r);
    }
  }
  finish(w, n);
  w.fixJumps(jumps);
  return w.bytes;
}

/** JIT options of the arena-heavy programs (r12 = kern_vm_start in the prologue). */
export const ARENA_JIT_OPTS = { kernVmStart: 0xffffc90100000000n, userVmStart: 0x100000000n };

/**
 * Arena-heavy code as the verifier leaves it: PROBE_MEM32 / PROBE_MEM32SX loads, stores (register and
 * immediate), PROBE_ATOMIC adds, cast to kernel (32-bit mov) and to user, between ALU instructions; every
 * access gets an exception-table entry. `n` slots; JIT with ARENA_JIT_OPTS.
 */
export function arenaHeavy(n) {
  const w = new Writer(n);
  const r = rng(3);
  w.insn(0xbc, 6, 1, 0, 0); // w6 = w1: the arena pointers are 32-bit offsets (cast to kernel)
  w.insn(0xbc, 7, 2, 0, 0);
  while (w.pc < n - 4) {
    const k = r() % 16;
    const base = 6 + (r() % 2);
    const off = 8 * (r() % 512);
    const size = [0x18, 0x00, 0x08, 0x10][r() % 4];
    if (k < 4) w.insn(0xa1 | size, r() % 6, base, off, 0); // rX = *(size __arena *)(rB + off)
    else if (k < 5) w.insn(0xc1 | [0x00, 0x08, 0x10][r() % 3], r() % 6, base, off, 0); // sign-extending
    else if (k < 8) w.insn(0xa3 | size, base, r() % 6, off, 0); // *(size __arena *)(rB + off) = rX
    else if (k < 9) w.insn(0xa2 | size, base, 0, off, r() | 0); // ... = imm
    else if (k < 10) w.insn(0xe3 | [0x18, 0x00][r() % 2], base, r() % 6, off, 0); // lock add
    else if (k < 11) w.insn(0xbf, r() % 6, r() % 6, 1, 0x10000); // rX = addr_space_cast(rY, 1, 0)
    else aluInsn(w, r);
  }
  return finish(w, n);
}

export const JIT_WORKLOADS = [
  { name: 'alu', label: 'straight-line ALU', make: straightAlu, opts: {} },
  { name: 'mixed', label: 'mixed memory/branch/call', make: mixedMemBranch, opts: {} },
  { name: 'arena', label: 'arena-heavy (PROBE_MEM32)', make: arenaHeavy, opts: ARENA_JIT_OPTS },
];

// ---- emulated loops (verifier-log syntax, standard dialect: the front end rewrites them like `bpfjit run`) ----

const loop = (iters, body) => [`r9 = ${iters}`, 'loop:', ...body, 'r9 -= 1', 'if r9 != 0 goto loop'];

/** 16 dependent ALU instructions per iteration (64- and 32-bit, shifts, mul). */
function aluLoop(iters) {
  return [
    'r0 = 0', 'r2 = 1', 'r3 = 3',
    ...loop(iters, [
      'r0 += r2', 'r2 ^= r3', 'r3 *= 7', 'r4 = r0', 'r4 >>= 3', 'r0 += r4', 'w5 = w0', 'w5 &= 65535',
      'r2 += r5', 'r3 |= 1', 'r6 = r3', 'r6 <<= 2', 'r0 -= r6', 'r7 = r0', 'r7 ^= r2', 'r8 = r7',
    ]),
    'exit',
  ];
}

/** Stack and context loads/stores: 12 memory accesses among 16 instructions per iteration. */
function memLoop(iters) {
  return [
    'r6 = r1', 'r0 = 0', '*(u64 *)(r10 -8) = 0', '*(u64 *)(r10 -16) = 0', '*(u32 *)(r10 -20) = 0',
    ...loop(iters, [
      'r2 = *(u64 *)(r10 -8)', 'r2 += 1', '*(u64 *)(r10 -8) = r2',
      'r3 = *(u64 *)(r6 +0)', 'r3 += r2', '*(u64 *)(r6 +0) = r3',
      'r4 = *(u32 *)(r10 -20)', '*(u32 *)(r10 -20) = r3',
      'r5 = *(u64 *)(r6 +8)', '*(u64 *)(r10 -16) = r5',
      'r4 = *(u16 *)(r6 +16)', '*(u16 *)(r6 +18) = r4',
      'r0 += r4', 'r5 = *(u8 *)(r6 +24)', '*(u8 *)(r6 +25) = r5', 'r0 ^= r5',
    ]),
    'exit',
  ];
}

/**
 * Arena loads/stores through a pointer made by addr_space_cast: 10 PROBE_MEM32 accesses among 16 instructions
 * per iteration. `faulting`: one of the loads and one store go to page 8, which is never allocated (the
 * exception table makes the load return 0 and drops the store).
 */
function arenaLoop(iters, faulting) {
  const far = faulting ? 'r7' : 'r6';
  return [
    'r1 = map[fd:0][0]+0', 'r6 = addr_space_cast(r1, 0, 1)',
    'r1 = map[fd:0][0]+32768', 'r7 = addr_space_cast(r1, 0, 1)', 'r0 = 0',
    ...loop(iters, [
      'r2 = *(u64 *)(r6 +0)', 'r2 += 1', '*(u64 *)(r6 +0) = r2',
      'r3 = *(u64 *)(r6 +8)', 'r3 += r2', '*(u64 *)(r6 +8) = r3',
      `r4 = *(u32 *)(r6 +16)`, `r4 = *(u32 *)(${far} +16)`, `*(u32 *)(${far} +20) = r4`,
      'r5 = *(u64 *)(r6 +24)', '*(u64 *)(r6 +32) = r5', 'r0 += r5',
      'r5 = *(u16 *)(r6 +40)', '*(u16 *)(r6 +42) = r5', 'r0 ^= r4', 'r0 += 1',
    ]),
    'exit',
  ];
}

/** Two helper calls per iteration (bpf_get_prandom_u32, bpf_ktime_get_ns): each is a JS callback. */
function helperLoop(iters) {
  return [
    'r6 = 0',
    ...loop(iters, ['call bpf_get_prandom_u32', 'r6 += r0', 'call bpf_ktime_get_ns', 'r6 += r0']),
    'r0 = r6', 'exit',
  ];
}

const ARENA_ENV = { arena: { pages: 16, flags: 0, map_extra: 0x100000000 }, prefault: { 0: '00'.repeat(4096) } };

/**
 * Emulated workloads. `perIter` and `fixed` give the BPF instructions one run executes
 * (fixed + iters * perIter); the bench checks them against the engine's trace-mode count on a short run.
 */
export const EMU_WORKLOADS = [
  { name: 'alu-loop', label: 'ALU loop', source: aluLoop, perIter: 18, fixed: 5, env: {} },
  { name: 'mem-loop', label: 'memory loop (stack+ctx)', source: memLoop, perIter: 18, fixed: 7, env: { ctx: '00'.repeat(64) } },
  { name: 'arena-loop', label: 'arena loop (no faults)', source: (n) => arenaLoop(n, false), perIter: 18, fixed: 7, env: ARENA_ENV },
  { name: 'arena-fault-loop', label: 'arena loop (2 faults/iter)', source: (n) => arenaLoop(n, true), perIter: 18, fixed: 7, env: ARENA_ENV, faultsPerIter: 2 },
  { name: 'helper-loop', label: 'helper calls (2/iter)', source: helperLoop, perIter: 6, fixed: 4, env: {} },
];

/** The smallest program: per-run overhead. */
export const TINY = ['r0 = 0', 'exit'];
