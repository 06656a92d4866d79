// The loaded examples in the real kernel: maps created from BpfMapSpec (global data written in),
// the arena created and its __arena globals written from user space, placeholders replaced by fds
// and kfunc BTF ids — then the verifier must accept every program, and the syscall programs must
// return what their C source computes, and bpfjit's JIT must produce the kernel's image byte for byte
// from the kernel's verified program. Skips where bpf() is not permitted.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/isa/codec.js';
import { LD_IMM64, PseudoCall, PseudoLd } from '../../src/isa/opcodes.js';
import { KernelArena, SyscallError, bpfAvailability, kernelSymbol, kfuncBtfId, mapCreate, progInfo, resolveXlated, testRun } from '../../src/kernel/index.js';
import { decode } from '../../src/isa/codec.js';
import { jit } from '../../src/jit/index.js';
import { NativeBuffer, bpf, closeFd, withBuffers } from '../../src/kernel/sys.js';
import { findProgram, kernelBtf, loadObject, programEnv, type BpfObject } from '../../src/loader/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const avail = bpfAvailability();
if (!avail.ok) console.warn(`test/loader/kernel.test.ts skipped: bpf() unavailable (${avail.reason})`);

const PROG_TYPE: Record<string, number> = { syscall: 31, xdp: 6, tracepoint: 5 };
const BPF_MAP_UPDATE_ELEM = 2;
const BPF_F_SLEEPABLE = 1 << 4;

function updateElem(fd: number, key: Uint8Array, value: Uint8Array): void {
  const k = NativeBuffer.from(key);
  const v = NativeBuffer.from(value);
  const attr = new NativeBuffer(144);
  withBuffers([k, v, attr], () => {
    attr.view.setUint32(0, fd, true);
    attr.view.setBigUint64(8, k.addr, true);
    attr.view.setBigUint64(16, v.addr, true);
    bpf(BPF_MAP_UPDATE_ELEM, attr, 'BPF_MAP_UPDATE_ELEM');
  });
}

const BPF_MAP_FREEZE = 22;
function freeze(fd: number): void {
  const attr = new NativeBuffer(144);
  withBuffers([attr], () => {
    attr.view.setUint32(0, fd, true);
    bpf(BPF_MAP_FREEZE, attr, 'BPF_MAP_FREEZE');
  });
}

const BPF_BTF_LOAD = 18;
const BPF_PROG_LOAD = 5;

/** BPF_BTF_LOAD of the object's own .BTF (func_info needs it: callbacks and global functions). */
function btfLoad(btf: Uint8Array): number {
  const data = NativeBuffer.from(btf);
  const log = new NativeBuffer(1 << 16);
  const attr = new NativeBuffer(144);
  return withBuffers([data, log, attr], () => {
    attr.view.setBigUint64(0, data.addr, true);
    attr.view.setBigUint64(8, log.addr, true);
    attr.view.setUint32(16, btf.length, true);
    attr.view.setUint32(20, log.size, true);
    attr.view.setUint32(24, 1, true);
    try {
      return bpf(BPF_BTF_LOAD, attr, 'BPF_BTF_LOAD');
    } catch (e) {
      throw new Error(`${(e as Error).message}: ${Buffer.from(log.bytes).toString("latin1").replace(/\0[^]*$/, "").trimEnd().split("\n").slice(-3).join(" | ")}`);
    }
  });
}

/** BPF_PROG_LOAD with prog_btf_fd and func_info (src/kernel's progLoad has no BTF fields). */
function progLoadBtf(o: { insns: Uint8Array; type: number; flags: number; license: string; name: string; btfFd: number; funcInfo: [number, number][] }): number {
  const insns = NativeBuffer.from(o.insns);
  const license = NativeBuffer.from(new TextEncoder().encode(`${o.license}\0`));
  const fi = new NativeBuffer(o.funcInfo.length * 8);
  o.funcInfo.forEach(([pc, id], i) => {
    fi.view.setUint32(i * 8, pc, true);
    fi.view.setUint32(i * 8 + 4, id, true);
  });
  const log = new NativeBuffer(1 << 20);
  const attr = new NativeBuffer(144);
  return withBuffers([insns, license, fi, log, attr], () => {
    const v = attr.view;
    v.setUint32(0, o.type, true);
    v.setUint32(4, o.insns.length / 8, true);
    v.setBigUint64(8, insns.addr, true);
    v.setBigUint64(16, license.addr, true);
    v.setUint32(24, 1, true);
    v.setUint32(28, log.size, true);
    v.setBigUint64(32, log.addr, true);
    v.setUint32(44, o.flags, true);
    attr.bytes.set(new TextEncoder().encode(o.name.slice(0, 15)), 48);
    if (o.btfFd >= 0) {
      v.setUint32(72, o.btfFd, true);
      v.setUint32(76, 8, true);
      v.setBigUint64(80, fi.addr, true);
      v.setUint32(88, o.funcInfo.length, true);
    }
    try {
      return bpf(BPF_PROG_LOAD, attr, 'BPF_PROG_LOAD');
    } catch (e) {
      const text = Buffer.from(log.bytes).toString('latin1').replace(/\0[^]*$/, '').trimEnd().split('\n').slice(-4).join(' | ');
      throw new Error(`${e instanceof SyscallError ? e.message : String(e)}: ${text}`);
    }
  });
}

/** An object's maps in the kernel; the arena mapped in this process. */
class Loaded {
  readonly fds: number[] = [];
  arena: KernelArena | null = null;
  readonly progs: number[] = [];
  btfFd = -1;
  constructor(readonly obj: BpfObject, btf: Uint8Array | null) {
    if (btf) this.btfFd = btfLoad(btf);
    for (const m of obj.maps) {
      if (m.kind === 'arena') {
        this.arena = KernelArena.create({ pages: m.maxEntries, flags: m.flags, map_extra: m.mapExtra });
        this.fds.push(this.arena.fd);
        continue;
      }
      const fd = mapCreate({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, mapExtra: m.mapExtra, name: m.name });
      this.fds.push(fd);
      if (m.initialValue) updateElem(fd, new Uint8Array(4), m.initialValue);
      if (m.freeze) freeze(fd);
    }
    // libbpf copies the __arena globals in through the user mapping before loading.
    const env = obj.programs.length ? programEnv(obj, obj.programs[0]!).env : null;
    for (const [pg, hex] of Object.entries(env?.prefault ?? {})) this.arena!.writePage(Number(pg), Buffer.from(hex, 'hex'));
  }
  load(name: string): number {
    const p = findProgram(this.obj, name);
    const insns = p.insns.insns.map((i) => {
      if (i.code === LD_IMM64 && (i.src === PseudoLd.MAP_FD || i.src === PseudoLd.MAP_VALUE)) return { ...i, imm: this.fds[i.imm]! };
      if (i.code === 0x85 && i.src === PseudoCall.KFUNC) return { ...i, imm: kfuncBtfId(p.kfuncs[`0x${i.imm.toString(16)}`]!) };
      return i;
    });
    const fd = progLoadBtf({
      insns: encode({ insns, slots: p.insns.slots }), type: PROG_TYPE[p.progType]!, flags: p.sleepable ? BPF_F_SLEEPABLE : 0,
      license: this.obj.license, name, btfFd: this.btfFd, funcInfo: p.functions.map((f) => [f.pc, f.btfTypeId]),
    });
    this.progs.push(fd);
    return fd;
  }
  run(name: string): number {
    return testRun(this.load(name), new Uint8Array(0)).retval;
  }
  close(): void {
    for (const fd of this.progs) closeFd(fd);
    for (const fd of this.fds) if (fd !== this.arena?.fd) closeFd(fd);
    this.arena?.close();
    closeFd(this.btfFd);
  }
}

// One kernel instance of each object (arena_list's arena lives at a fixed address: it can be mapped once).
const opened: Loaded[] = [];
const byFile = new Map<string, Loaded>();
const open = (f: string): Loaded => byFile.get(f) ?? openNew(f);
const openNew = (f: string): Loaded => {
  const bytes = new Uint8Array(readFileSync(`${root}examples/${f}`));
  const btf = kernelBtf(bytes);
  const l = new Loaded(loadObject(bytes), btf);
  opened.push(l);
  byFile.set(f, l);
  return l;
};
afterAll(() => opened.forEach((l) => l.close()));

describe.skipIf(!avail.ok)('examples in the running kernel', () => {
  it('hello returns 42', () => {
    expect(open('hello.bpf.o').run('hello')).toBe(42);
  });

  it('arena_list: BPF builds and sums the list; user space walks it through the stored user pointers', () => {
    const l = open('arena_list.bpf.o');
    expect(l.run('build_list')).toBe(0);
    const arena = l.arena!;
    const base = arena.userVmStart;
    expect(base).toBe(1n << 32n); // map_extra
    const syms = JSON.parse(readFileSync(`${root}test/fixtures/loader/expected.json`, 'utf8'))['arena_list.bpf.o'].symbols as { name: string; value: number }[];
    const at = (addr: bigint, off = 0): bigint => {
      const rel = Number(addr - base) + off;
      return new DataView(arena.readPage(rel >> 12).buffer).getBigUint64(rel & 0xfff, true);
    };
    const page0 = new DataView(arena.readPage(0).buffer);
    expect(page0.getBigUint64(syms.find((s) => s.name === 'arena_sum')!.value, true)).toBe(55n); // 1 + … + 10
    const values: bigint[] = [];
    for (let n = page0.getBigUint64(syms.find((s) => s.name === 'head')!.value, true); n !== 0n && values.length < 20; n = at(n, 0)) {
      expect(n >> 32n).toBe(base >> 32n); // a user-space pointer
      values.push(at(n, 8));
    }
    expect(values).toEqual([10n, 9n, 8n, 7n, 6n, 5n, 4n, 3n, 2n, 1n]);
    expect(l.run('free_list')).toBe(55);
  });

  it('arena_htab returns the sum of squares 0..19', () => {
    expect(open('arena_htab.bpf.o').run('htab_test')).toBe(2470);
  });

  it("bpfjit's JIT reproduces the kernel's image of each example from its verified program", () => {
    const callBase = kernelSymbol('__bpf_call_base');
    expect(callBase).not.toBeNull();
    // sum_squares is left out: its bpf_loop callback address (ld_imm64 src 4) is not resolved from the
    // xlated dump yet (src/kernel/resolve.ts reports "no matching movabs"), so the inputs differ.
    const cases = [['hello.bpf.o', 'hello'], ['arena_htab.bpf.o', 'htab_test'], ['arena_list.bpf.o', 'build_list'], ['arena_list.bpf.o', 'free_list'], ['maps_loop.bpf.o', 'xdp_count'], ['maps_loop.bpf.o', 'tp_write']] as const;
    for (const [file, name] of cases) {
      const l = open(file);
      const info = progInfo(l.load(name));
      const uvs = l.arena?.userVmStart ?? null;
      const r = resolveXlated({ xlated: info.xlated, jited: info.jited, funcLens: info.funcLens, userVmStart: uvs });
      const out = jit(decode(r.xlatedResolved), { imageBase: info.ksyms, callBase: callBase!, kernVmStart: r.kernVmStart ?? undefined, userVmStart: uvs ?? undefined });
      const ours = Buffer.concat(out.functions.map((f) => Buffer.from(f.image)));
      expect(ours.toString('hex'), `${file} ${name}`).toBe(Buffer.from(info.jited).toString('hex'));
    }
  });

  it('maps_loop: bpf_loop callback with maps returns 1240; the xdp and tracepoint programs verify', () => {
    const l = open('maps_loop.bpf.o');
    expect(l.run('sum_squares')).toBe(1240);
    expect(l.load('xdp_count')).toBeGreaterThan(0);
    expect(l.load('tp_write')).toBeGreaterThan(0);
  });
});
