// src/kernel — turns the kernel's xlated dump into exactly what its JIT consumed (`xlated_resolved`), using
// the JIT image as the witness:
// - arena accesses: the dump prints PROBE_MEM32 (0xa0) as plain MEM. Every BPF load/store emits one x86
//   instruction with a [base+disp] operand (two for the fetch-and/or/xor cmpxchg loop), in program order; the
//   arena ones address [base+r12+disp]. Walking both sequences together marks the arena accesses and checks
//   every displacement against the instruction's offset.
// - map ld_imm64 (dump: src 1, imm = map id) become the `struct bpf_map *` the JIT loaded with movabs.
// - bpf-to-bpf calls (dump: off = relative offset, imm = subprog index) get imm = relative offset, off = 0.
// - callback addresses (ld_imm64 src 4; dump: imm = relative offset of the callee) become the callee's image
//   address, which the JIT loads with a sign-extended 32-bit mov (kernel text addresses fit), not a movabs.
// It also reads kern_vm_start (the prologue's `movabs r12, imm64`).
import { Code, Decoder, Mnemonic, OpKind, Register } from 'iced-x86';
import { Class, Mode, PseudoCall, PseudoLd, LD_IMM64, insnClass, insnMode } from '../isa/opcodes.js';

/** x86 register (iced) of each BPF register; r11 = BPF_REG_AX. */
const X86_OF_BPF: readonly Register[] = [
  Register.RAX, Register.RDI, Register.RSI, Register.RDX, Register.RCX, Register.R8, Register.RBX,
  Register.R13, Register.R14, Register.R15, Register.RBP, Register.R10,
];

export interface LdImm64Check {
  readonly insn: number;
  readonly kind: 'map_ptr' | 'arena_addr';
  readonly value: string;
  readonly movabs_in_jit: boolean;
}

export interface ResolveInput {
  readonly xlated: Uint8Array;
  readonly jited: Uint8Array;
  readonly funcLens: readonly number[];
  /** user_vm_start of the arena (to name arena-address ld_imm64 in the checks), or null. */
  readonly userVmStart?: bigint | null;
  /** Image address of each function (main first): the value of callback ld_imm64 (src 4). */
  readonly ksyms?: readonly bigint[];
}

export interface Resolution {
  readonly xlatedResolved: Uint8Array;
  readonly kernVmStart: bigint | null;
  readonly mapPtr: bigint | null;
  /** Low 32 bits of &this_cpu_off, when an inlined helper's per-CPU move shows it; else null. */
  readonly thisCpuOff: number | null;
  readonly arenaAccesses: number;
  readonly ldImm64Checked: readonly LdImm64Check[];
  /** Problems found while matching the image to the program (empty when everything matched). */
  readonly notes: readonly string[];
  /** One line saying how the PROBE_MEM32 marks were checked. */
  readonly jitCheck: string;
}

interface MemOp {
  readonly base: Register;
  readonly index: Register;
  readonly disp: number;
  readonly at: number;
}

interface ImageFacts {
  readonly memOps: MemOp[];
  readonly movabs: { reg: Register; value: bigint; at: number }[];
  kernVmStart: bigint | null;
  /** Displacement of `add reg, gs:[disp32]` (the per-CPU move: &this_cpu_off, low 32 bits). */
  gsDisp: number | null;
}

function scanImage(image: Uint8Array): ImageFacts {
  const facts: ImageFacts = { memOps: [], movabs: [], kernVmStart: null, gsDisp: null };
  const d = new Decoder(64, image, 0);
  d.ip = 0n;
  while (d.canDecode) {
    const at = Number(d.ip);
    const ins = d.decode();
    try {
      if (ins.code === Code.Mov_r64_imm64) {
        const value = BigInt.asUintN(64, ins.immediate(1));
        if (ins.op0Register === Register.R12) facts.kernVmStart ??= value;
        else facts.movabs.push({ reg: ins.op0Register, value, at });
        continue;
      }
      if (ins.mnemonic === Mnemonic.Nop) continue; // the prologue's and the padding's `nop [rax+rax]`
      for (let k = 0; k < ins.opCount; k++) {
        // Absolute/segment operands (gs:[this_cpu_off] of the per-CPU move) are not BPF memory accesses.
        if (ins.opKind(k) !== OpKind.Memory) continue;
        if (ins.memorySegment === Register.GS) facts.gsDisp ??= Number(ins.memoryDisplacement & 0xffffffffn);
        if (ins.memoryBase === Register.None) continue;
        facts.memOps.push({ base: ins.memoryBase, index: ins.memoryIndex, disp: Number(BigInt.asIntN(32, ins.memoryDisplacement)), at });
      }
    } finally {
      ins.free();
    }
  }
  d.free();
  return facts;
}

/** Number of [base+disp] operands the JIT emits for a BPF load/store (0 for other instructions). */
function memOpCount(code: number, imm: number): number {
  const cls = insnClass(code);
  if (cls !== Class.LDX && cls !== Class.ST && cls !== Class.STX) return 0;
  const mode = insnMode(code);
  if (mode === Mode.IMM) return 0;
  if (cls === Class.ST && mode === Mode.NOSPEC) return 0; // lfence
  if (cls === Class.STX && (mode === Mode.ATOMIC || mode === Mode.PROBE_ATOMIC)) {
    // fetch_and/or/xor: `mov rax,[mem]` then `lock cmpxchg [mem],r11`.
    if (imm === 0x51 || imm === 0x41 || imm === 0xa1) return 2;
  }
  return 1;
}

function needsMovabs(v: bigint): boolean {
  return v >= 1n << 32n && BigInt.asIntN(64, v) !== BigInt.asIntN(32, v & 0xffffffffn);
}

/** Start slots of the functions: 0 and every bpf-to-bpf call target. */
export function functionStarts(xlated: Uint8Array): number[] {
  const v = new DataView(xlated.buffer, xlated.byteOffset, xlated.byteLength);
  const n = xlated.length / 8;
  const starts = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const code = v.getUint8(i * 8);
    const src = v.getUint8(i * 8 + 1) >> 4;
    if (code === (Class.JMP | 0x80) && src === PseudoCall.CALL) starts.add(i + v.getInt16(i * 8 + 2, true) + 1);
    if (code === LD_IMM64 && src === PseudoLd.FUNC) starts.add(i + v.getInt32(i * 8 + 4, true) + 1);
    if (code === LD_IMM64) i++;
  }
  return [...starts].sort((a, b) => a - b);
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export function resolveXlated(input: ResolveInput): Resolution {
  const out = new Uint8Array(input.xlated);
  const v = new DataView(out.buffer);
  const n = out.length / 8;
  const notes: string[] = [];
  const checks: LdImm64Check[] = [];
  const starts = functionStarts(input.xlated);
  if (starts.length !== input.funcLens.length) {
    notes.push(`${starts.length} functions in xlated vs ${input.funcLens.length} images`);
  }
  let kernVmStart: bigint | null = null;
  let mapPtr: bigint | null = null;
  let thisCpuOff: number | null = null;
  let arena = 0;
  let imageOff = 0;
  const uvs = input.userVmStart ?? null;
  for (let f = 0; f < starts.length; f++) {
    const first = starts[f]!;
    const end = starts[f + 1] ?? n;
    const len = input.funcLens[f] ?? 0;
    const facts = scanImage(input.jited.subarray(imageOff, imageOff + len));
    imageOff += len;
    thisCpuOff ??= facts.gsDisp;
    if (facts.kernVmStart !== null) {
      if (kernVmStart !== null && kernVmStart !== facts.kernVmStart) notes.push(`function ${f}: movabs r12 differs`);
      kernVmStart ??= facts.kernVmStart;
    }
    let m = 0; // next memory operand
    let a = 0; // next movabs
    for (let i = first; i < end; i++) {
      const base = i * 8;
      const code = v.getUint8(base);
      const dst = v.getUint8(base + 1) & 0x0f;
      const src = v.getUint8(base + 1) >> 4;
      const off = v.getInt16(base + 2, true);
      const imm = v.getInt32(base + 4, true);
      if (code === LD_IMM64 && src === PseudoLd.FUNC) {
        const callee = starts.indexOf(i + imm + 1);
        const addr = input.ksyms?.[callee];
        if (callee < 0 || addr === undefined) notes.push(`insn ${i}: callback ld_imm64 to insn ${i + imm + 1}, which starts no known function`);
        else {
          v.setUint8(base + 1, dst); // src 0: the callee's address as a plain 64-bit immediate
          v.setUint32(base + 4, Number(addr & 0xffffffffn), true);
          v.setUint32(base + 12, Number(addr >> 32n), true);
          if (needsMovabs(addr)) a++; // (not for kernel text: a sign-extended 32-bit mov)
        }
        i++;
        continue;
      }
      if (code === LD_IMM64) {
        const value = (BigInt(v.getUint32(base + 12, true)) << 32n) | BigInt(v.getUint32(base + 4, true));
        const isMap = src === PseudoLd.MAP_FD || src === PseudoLd.MAP_VALUE;
        if (isMap || needsMovabs(value)) {
          const mv = facts.movabs[a++];
          const regOk = mv !== undefined && mv.reg === X86_OF_BPF[dst];
          if (!regOk) notes.push(`insn ${i}: ld_imm64 has no matching movabs in the image`);
          if (isMap && regOk) {
            if (src === PseudoLd.MAP_VALUE) notes.push(`insn ${i}: map value ld_imm64 (map id ${imm}) kept as the loaded address`);
            mapPtr ??= mv.value;
            v.setUint8(base + 1, dst); // src 0: a plain 64-bit immediate
            v.setUint32(base + 4, Number(mv.value & 0xffffffffn), true);
            v.setUint32(base + 12, Number(mv.value >> 32n), true);
            if (src === PseudoLd.MAP_FD) checks.push({ insn: i, kind: 'map_ptr', value: hex(mv.value), movabs_in_jit: true });
          } else if (regOk && mv.value !== value) {
            notes.push(`insn ${i}: ld_imm64 ${hex(value)} but movabs ${hex(mv.value)}`);
          }
          if (!isMap && uvs !== null && value >= uvs && value < uvs + (1n << 32n)) {
            checks.push({ insn: i, kind: 'arena_addr', value: hex(value), movabs_in_jit: regOk && mv.value === value });
          }
        } else if (uvs !== null && value >= uvs && value < uvs + (1n << 32n)) {
          checks.push({ insn: i, kind: 'arena_addr', value: hex(value), movabs_in_jit: false });
        }
        i++;
        continue;
      }
      if (code === (Class.JMP | 0x80) && src === PseudoCall.CALL) {
        v.setInt16(base + 2, 0, true);
        v.setInt32(base + 4, off, true);
        continue;
      }
      const count = memOpCount(code, imm);
      if (count === 0) continue;
      const ops = facts.memOps.slice(m, m + count);
      m += count;
      if (ops.length < count) {
        notes.push(`insn ${i}: no x86 memory operand left in the image for this access`);
        continue;
      }
      if (ops.some((o) => o.disp !== off)) {
        notes.push(`insn ${i}: offset ${off} but the image's operand at +${ops[0]!.at} has displacement ${ops[0]!.disp}`);
        continue;
      }
      const isArena = ops.every((o) => o.index === Register.R12);
      if (!isArena && ops.some((o) => o.index === Register.R12)) notes.push(`insn ${i}: mixed arena and plain operands`);
      const mode = insnMode(code);
      const cls = insnClass(code);
      const kernelMarked = (cls === Class.LDX && mode === Mode.PROBE_MEM32SX) || (cls === Class.STX && mode === Mode.PROBE_ATOMIC);
      if (isArena) {
        arena++;
        if (mode === Mode.MEM) v.setUint8(base, (code & ~0xe0) | Mode.PROBE_MEM32);
        else if (!kernelMarked && mode !== Mode.PROBE_MEM32) notes.push(`insn ${i}: r12-indexed operand for mode 0x${mode.toString(16)}`);
      } else if (kernelMarked) {
        notes.push(`insn ${i}: marked as an arena access but the image addresses it without r12`);
      }
    }
    if (m !== facts.memOps.length) notes.push(`function ${f}: ${facts.memOps.length - m} x86 memory operands not matched to BPF accesses`);
    if (a !== facts.movabs.length) notes.push(`function ${f}: ${facts.movabs.length - a} movabs not matched to ld_imm64`);
  }
  const jitCheck = notes.length === 0 ? `iced-x86: ${arena} arena accesses, order+displacement match` : `iced-x86: ${arena} arena accesses, ${notes.length} problems`;
  return { xlatedResolved: out, kernVmStart, mapPtr, thisCpuOff, arenaAccesses: arena, ldImm64Checked: checks, notes, jitCheck };
}

/**
 * The target of the epilogue's `jmp rel32` out of the image, when the kernel returns through a return thunk
 * (CONFIG_MITIGATION_RETHUNK on a CPU that needs it: `jmp __x86_return_thunk` instead of `ret`); else null.
 */
export function returnThunkTarget(jited: Uint8Array, funcLens: readonly number[], ksyms: readonly bigint[]): bigint | null {
  let off = 0;
  for (let f = 0; f < funcLens.length; f++) {
    const len = funcLens[f]!;
    const base = ksyms[f] ?? 0n;
    const d = new Decoder(64, jited.subarray(off, off + len), 0);
    d.ip = base;
    let found: bigint | null = null;
    while (d.canDecode && found === null) {
      const ins = d.decode();
      if (ins.code === Code.Jmp_rel32_64) {
        const t = ins.nearBranchTarget;
        if ((t < base || t >= base + BigInt(len)) && !ksyms.includes(t)) found = t;
      }
      ins.free();
    }
    d.free();
    off += len;
    if (found !== null) return found;
  }
  return null;
}
