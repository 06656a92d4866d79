// src/kernel — compares two NAME.kernel.json records of the same program (e.g. this host's load against the
// corpus's). Addresses differ per load (map pointer, kern_vm_start, image addresses, a kernel-chosen
// user_vm_start) and per kernel build (helper/kfunc addresses, call_base): such values are equal when they
// translate into each other through the two records' address fields; everything else must be equal byte for byte.
import { Code, Decoder, Mnemonic, OpKind } from 'iced-x86';

/** The fields of a kernel record that the comparison reads (the corpus's and runInKernel's). */
export interface ComparableRecord {
  jited: string;
  xlated: string;
  xlated_resolved: string;
  call_base: string;
  ksyms: readonly string[];
  func_lens: readonly number[];
  kern_vm_start: string | null;
  user_vm_start: string | null;
  map_ptr: string | null;
  kfunc_addrs: Readonly<Record<string, string>>;
  retval?: number;
  ctx_out?: string;
  arena_pages_after?: Readonly<Record<string, string>>;
  arena_allocated_after?: readonly number[];
}

export interface RecordDiff {
  readonly field: string;
  readonly detail: string;
}

const big = (s: string | null | undefined): bigint | null => (s === null || s === undefined ? null : BigInt(s));

/** Pairs of equivalent values (reference → mine), including the halves used by 32-bit immediates. */
class Equivalence {
  private readonly pairs = new Map<bigint, Set<bigint>>();
  add(a: bigint | null, b: bigint | null): void {
    if (a === null || b === null) return;
    for (const [x, y] of [[a, b], [a >> 32n, b >> 32n], [a & 0xffffffffn, b & 0xffffffffn]] as const) {
      let s = this.pairs.get(x);
      if (!s) this.pairs.set(x, (s = new Set()));
      s.add(y);
    }
  }
  same(a: bigint, b: bigint): boolean {
    return a === b || (this.pairs.get(a)?.has(b) ?? false);
  }
}

function equivalence(ref: ComparableRecord, mine: ComparableRecord): Equivalence {
  const eq = new Equivalence();
  eq.add(big(ref.kern_vm_start), big(mine.kern_vm_start));
  eq.add(big(ref.map_ptr), big(mine.map_ptr));
  const ru = big(ref.user_vm_start);
  const mu = big(mine.user_vm_start);
  if (ru !== null && mu !== null) {
    // Arena addresses the program loads: page-granular offsets into the (at most 4 GiB) arena.
    for (let off = 0n; off < 1n << 20n; off += 4096n) eq.add(ru + off, mu + off);
  }
  for (const [name, a] of Object.entries(ref.kfunc_addrs)) eq.add(big(a), big(mine.kfunc_addrs[name]));
  ref.ksyms.forEach((k, i) => eq.add(big(k), big(mine.ksyms[i])));
  return eq;
}

/** Compares two records; an empty list means equal up to addresses. `results` also compares the run. */
export function compareKernelRecords(ref: ComparableRecord, mine: ComparableRecord, results = true): RecordDiff[] {
  const diffs: RecordDiff[] = [];
  const eq = equivalence(ref, mine);
  const d = compareImages(ref, mine, eq);
  if (d) diffs.push({ field: 'jited', detail: d });
  for (const field of ['xlated', 'xlated_resolved'] as const) {
    const d = compareXlated(ref[field], mine[field], ref, mine, eq);
    if (d) diffs.push({ field, detail: d });
  }
  if (results) {
    if (ref.retval !== mine.retval) diffs.push({ field: 'retval', detail: `${ref.retval} vs ${mine.retval}` });
    const ru = big(ref.user_vm_start);
    const mu = big(mine.user_vm_start);
    const sameData = (a: string, b: string) => a === b || sameUpToArenaPointers(a, b, ru, mu);
    if (!sameData(ref.ctx_out ?? '', mine.ctx_out ?? '')) diffs.push({ field: 'ctx_out', detail: firstHexDiff(ref.ctx_out ?? '', mine.ctx_out ?? '') });
    const pa = JSON.stringify(ref.arena_allocated_after ?? []);
    const pb = JSON.stringify(mine.arena_allocated_after ?? []);
    if (pa !== pb) diffs.push({ field: 'arena_allocated_after', detail: `${pa} vs ${pb}` });
    const ka = Object.keys(ref.arena_pages_after ?? {}).sort();
    const kb = Object.keys(mine.arena_pages_after ?? {}).sort();
    if (ka.join() !== kb.join()) diffs.push({ field: 'arena_pages_after', detail: `pages ${ka.join(',')} vs ${kb.join(',')}` });
    else {
      for (const k of ka) {
        const a = ref.arena_pages_after![k]!;
        const b = mine.arena_pages_after![k]!;
        if (!sameData(a, b)) diffs.push({ field: 'arena_pages_after', detail: `page ${k}: ${firstHexDiff(a, b)}` });
      }
    }
  }
  return diffs;
}

/**
 * Data that differs only where it holds arena user pointers (a kernel-chosen user_vm_start differs per
 * load): every differing byte must lie in an 8-byte value uvs+off on both sides (same off), or in a 4-byte
 * value holding the upper or the lower half of such a pointer.
 */
export function sameUpToArenaPointers(hexA: string, hexB: string, uvsA: bigint | null, uvsB: bigint | null): boolean {
  if (hexA.length !== hexB.length) return false;
  if (uvsA === null || uvsB === null || uvsA === uvsB) return hexA === hexB;
  const a = Buffer.from(hexA, 'hex');
  const b = Buffer.from(hexB, 'hex');
  const explained = new Uint8Array(a.length);
  const hiA = Number(uvsA >> 32n);
  const hiB = Number(uvsB >> 32n);
  for (let i = 0; i + 4 <= a.length; i++) {
    if (i + 8 <= a.length) {
      const offA = a.readBigUInt64LE(i) - uvsA;
      const offB = b.readBigUInt64LE(i) - uvsB;
      if (offA === offB && offA >= 0n && offA < 1n << 32n) explained.fill(1, i, i + 8);
    }
    if (a.readUInt32LE(i) === hiA && b.readUInt32LE(i) === hiB) explained.fill(1, i, i + 4);
    const loA = (a.readUInt32LE(i) - Number(uvsA & 0xffffffffn)) >>> 0;
    const loB = (b.readUInt32LE(i) - Number(uvsB & 0xffffffffn)) >>> 0;
    if (loA === loB && loA < 1 << 30) explained.fill(1, i, i + 4);
  }
  return a.every((x, i) => x === b[i] || explained[i] === 1);
}

function firstHexDiff(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `first difference at byte ${Math.floor(i / 2)}`;
}

interface X86 {
  readonly at: number;
  readonly bytes: Uint8Array;
  readonly code: Code;
  readonly mnemonic: Mnemonic;
  readonly imms: bigint[];
  /** Absolute target of a relative branch or call. */
  readonly branch: bigint | null;
}

function decodeAll(image: Uint8Array, base: bigint): X86[] {
  const out: X86[] = [];
  const d = new Decoder(64, image, 0);
  d.ip = base;
  while (d.canDecode) {
    const at = Number(d.ip - base);
    const ins = d.decode();
    const imms: bigint[] = [];
    let branch: bigint | null = null;
    for (let k = 0; k < ins.opCount; k++) {
      const kind = ins.opKind(k);
      if (kind === OpKind.NearBranch64) branch = ins.nearBranchTarget;
      else if (kind >= OpKind.Immediate8 && kind <= OpKind.Immediate32to64) imms.push(BigInt.asUintN(64, ins.immediate(k)));
    }
    out.push({ at, bytes: image.subarray(at, at + ins.length), code: ins.code, mnemonic: ins.mnemonic, imms, branch });
    ins.free();
  }
  d.free();
  return out;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Instruction by instruction. Branches inside a function compare by target instruction (a kernel with a
 * different epilogue size moves them; rel8/rel32 may then differ); `ret` and `jmp <return thunk outside the
 * image>` are the same return (kernels with return thunks emit the latter).
 */
function compareImages(ref: ComparableRecord, mine: ComparableRecord, eq: Equivalence): string | null {
  const ra = Buffer.from(ref.jited, 'hex');
  const ma = Buffer.from(mine.jited, 'hex');
  let offA = 0;
  let offB = 0;
  const fns = Math.max(ref.func_lens.length, mine.func_lens.length);
  if (ref.func_lens.length !== mine.func_lens.length) return `${ref.func_lens.length} vs ${mine.func_lens.length} functions`;
  for (let f = 0; f < fns; f++) {
    const baseA = BigInt(ref.ksyms[f] ?? 0);
    const baseB = BigInt(mine.ksyms[f] ?? 0);
    const lenA = ref.func_lens[f]!;
    const lenB = mine.func_lens[f]!;
    const a = decodeAll(new Uint8Array(ra.subarray(offA, offA + lenA)), baseA);
    const b = decodeAll(new Uint8Array(ma.subarray(offB, offB + lenB)), baseB);
    offA += lenA;
    offB += lenB;
    const indexA = new Map(a.map((x, i) => [baseA + BigInt(x.at), i]));
    const indexB = new Map(b.map((x, i) => [baseB + BigInt(x.at), i]));
    const isRet = (z: X86, index: Map<bigint, number>) =>
      z.mnemonic === Mnemonic.Ret || (z.code === Code.Jmp_rel32_64 && z.branch !== null && !index.has(z.branch));
    if (a.length !== b.length) return `function ${f}: ${a.length} vs ${b.length} instructions`;
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      const where = `function ${f} insn ${i} (+0x${x.at.toString(16)})`;
      if (isRet(x, indexA) || isRet(y, indexB)) {
        if (isRet(x, indexA) && isRet(y, indexB)) continue;
        return `${where}: return vs other instruction`;
      }
      if (x.code === Code.Call_rel32_64 && y.code === Code.Call_rel32_64) {
        // Helper addresses depend on the kernel build: only bpf-to-bpf and kfunc targets can be checked.
        const t = `0x${x.branch!.toString(16)}`;
        const checkable = ref.ksyms.includes(t) || Object.values(ref.kfunc_addrs).includes(t);
        if (checkable && !eq.same(x.branch!, y.branch!)) return `${where}: call to another function`;
        continue;
      }
      if (x.branch !== null || y.branch !== null) {
        const ta = x.branch === null ? undefined : indexA.get(x.branch);
        const tb = y.branch === null ? undefined : indexB.get(y.branch);
        if (x.mnemonic !== y.mnemonic || ta === undefined || ta !== tb) return `${where}: different branch`;
        continue;
      }
      if (sameBytes(x.bytes, y.bytes)) continue;
      if (x.code !== y.code || x.bytes.length !== y.bytes.length) return `${where}: different instructions`;
      // Kernel data addresses (the per-CPU cpu_number and this_cpu_off of inlined helpers) depend on the build.
      if (x.bytes[0] === 0x65 && y.bytes[0] === 0x65) continue;
      const kernelData = (v: bigint) => v >= 0xffffffff80000000n;
      const sameImm = (v: bigint, w: bigint) => eq.same(v, w) || (kernelData(v) && kernelData(w));
      if (x.imms.length !== y.imms.length || x.imms.some((v, k) => !sameImm(v, y.imms[k]!))) return `${where}: immediates differ beyond addresses`;
      // Same code and translatable immediates: the rest of the bytes (registers, displacement) must match.
      const strip = (z: X86) => Buffer.from(z.bytes).toString('hex').slice(0, 2 * (z.bytes.length - immBytes(z)));
      if (strip(x) !== strip(y)) return `${where}: operands differ`;
    }
  }
  return null;
}

/** Trailing immediate bytes of the instructions compared above (movabs 8, others 4 or 1). */
function immBytes(z: X86): number {
  if (z.code === Code.Mov_r64_imm64) return 8;
  return z.imms.length === 0 ? 0 : z.bytes.length >= 6 ? 4 : 1;
}

function compareXlated(refHex: string, mineHex: string, ref: ComparableRecord, mine: ComparableRecord, eq: Equivalence): string | null {
  const a = Buffer.from(refHex, 'hex');
  const b = Buffer.from(mineHex, 'hex');
  if (a.length !== b.length) return `${a.length / 8} vs ${b.length / 8} slots`;
  const kfuncName = (rec: ComparableRecord, imm: number): string | undefined => {
    const target = BigInt(rec.call_base) + BigInt(imm);
    return Object.entries(rec.kfunc_addrs).find(([, v]) => BigInt(v) === target)?.[0];
  };
  for (let i = 0; i < a.length / 8; i++) {
    const x = a.subarray(i * 8, i * 8 + 8);
    const y = b.subarray(i * 8, i * 8 + 8);
    const ld = x[0] === 0x18;
    const xv = ld ? a.subarray(i * 8, i * 8 + 16) : x;
    const yv = ld ? b.subarray(i * 8, i * 8 + 16) : y;
    if (sameBytes(xv, yv)) {
      if (ld) i++;
      continue;
    }
    if (x.subarray(0, 4).some((v, k) => v !== y[k])) return `insn ${i}: opcode/registers/offset differ`;
    const ximm = x.readInt32LE(4);
    const yimm = y.readInt32LE(4);
    if (x[0] === 0x85) {
      const src = x[1]! >> 4;
      if (src === 2 && kfuncName(ref, ximm) !== kfuncName(mine, yimm)) return `insn ${i}: calls another kfunc`;
      if (src === 1) return `insn ${i}: bpf-to-bpf call differs`;
      continue; // helper: its address depends on the kernel build
    }
    if (ld) {
      i++;
      if (x[1]! >> 4 === 1) continue; // the dump's map id: differs per load
      const xlo = BigInt(a.readUInt32LE(i * 8 - 4));
      const ylo = BigInt(b.readUInt32LE(i * 8 - 4));
      const xfull = (BigInt(a.readUInt32LE(i * 8 + 4)) << 32n) | xlo;
      const yfull = (BigInt(b.readUInt32LE(i * 8 + 4)) << 32n) | ylo;
      if (eq.same(xfull, yfull)) continue;
      if (xfull >= 0xffff800000000000n && yfull >= 0xffff800000000000n) continue; // kernel data (e.g. &jiffies)
      return `insn ${i - 1}: ld_imm64 0x${xfull.toString(16)} vs 0x${yfull.toString(16)}`;
    }
    // The verifier's inlined bpf_get_smp_processor_id: `rX = (u32)&cpu_number` before the per-CPU move.
    const next = a.subarray(i * 8 + 8, i * 8 + 16);
    if ((x[0] === 0xb7 || x[0] === 0xb4) && next[0] === 0xbf && next.readInt16LE(2) === -1) continue;
    return `insn ${i}: imm ${ximm} vs ${yimm}`;
  }
  return null;
}
