// src/kernel — typed wrappers of the bpf() commands the oracle needs: MAP_CREATE (arena), PROG_LOAD
// (sleepable syscall programs), OBJ_GET_INFO_BY_FD (images, xlated, ksyms, map ids) and PROG_TEST_RUN.
// bpf_attr / bpf_prog_info offsets are those of include/uapi/linux/bpf.h (checked with offsetof).
import { NativeBuffer, SyscallError, bpf, closeFd, onCpu0, withBuffers } from './sys.js';

export const BpfCmd = { MAP_CREATE: 0, MAP_UPDATE_ELEM: 2, PROG_LOAD: 5, OBJ_GET_INFO_BY_FD: 15, PROG_TEST_RUN: 10, MAP_FREEZE: 22, BTF_LOAD: 18 } as const;
export const MapType = { ARRAY: 2, ARENA: 33 } as const;
export const ProgType = { SYSCALL: 31 } as const;
export const MapFlag = { MMAPABLE: 1 << 10, SEGV_ON_FAULT: 1 << 17, NO_USER_CONV: 1 << 18 } as const;
export const ProgFlag = { SLEEPABLE: 1 << 4 } as const;
/** Verifier log levels: 1 = messages, 2 = every instruction with its state, 4 = statistics only. */
export const LogLevel = { NONE: 0, BRANCHES: 1, ALL: 2, STATS: 4 } as const;

const ATTR_SIZE = 144;

export interface MapCreateOptions {
  readonly type: number;
  readonly keySize?: number;
  readonly valueSize?: number;
  readonly maxEntries: number;
  readonly flags?: number;
  readonly mapExtra?: bigint;
  readonly name?: string;
}

/** BPF_MAP_CREATE; returns the map fd. */
export function mapCreate(o: MapCreateOptions): number {
  const attr = new NativeBuffer(ATTR_SIZE);
  return withBuffers([attr], () => {
    const v = attr.view;
    v.setUint32(0, o.type, true);
    v.setUint32(4, o.keySize ?? 0, true);
    v.setUint32(8, o.valueSize ?? 0, true);
    v.setUint32(12, o.maxEntries, true);
    v.setUint32(16, o.flags ?? 0, true);
    attr.bytes.set(new TextEncoder().encode((o.name ?? '').slice(0, 15)), 28);
    v.setBigUint64(64, o.mapExtra ?? 0n, true);
    return bpf(BpfCmd.MAP_CREATE, attr, `BPF_MAP_CREATE (type ${o.type}, ${o.maxEntries} entries, flags 0x${(o.flags ?? 0).toString(16)})`);
  });
}

/** BPF_MAP_UPDATE_ELEM (flags BPF_ANY). */
export function mapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array): void {
  const k = NativeBuffer.from(key);
  const val = NativeBuffer.from(value);
  const attr = new NativeBuffer(ATTR_SIZE);
  withBuffers([k, val, attr], () => {
    attr.view.setUint32(0, fd, true);
    attr.view.setBigUint64(8, k.addr, true);
    attr.view.setBigUint64(16, val.addr, true);
    bpf(BpfCmd.MAP_UPDATE_ELEM, attr, 'BPF_MAP_UPDATE_ELEM');
  });
}

/** BPF_MAP_FREEZE: user space can no longer write the map (libbpf does it for .rodata). */
export function mapFreeze(fd: number): void {
  const attr = new NativeBuffer(ATTR_SIZE);
  withBuffers([attr], () => {
    attr.view.setUint32(0, fd, true);
    bpf(BpfCmd.MAP_FREEZE, attr, 'BPF_MAP_FREEZE');
  });
}

/** BPF_BTF_LOAD of a program's BTF; returns the fd (the BTF verifier's log is in the error). */
export function btfLoad(data: Uint8Array): number {
  const btf = NativeBuffer.from(data);
  const log = new NativeBuffer(1 << 16);
  const attr = new NativeBuffer(ATTR_SIZE);
  return withBuffers([btf, log, attr], () => {
    const v = attr.view;
    v.setBigUint64(0, btf.addr, true);
    v.setBigUint64(8, log.addr, true);
    v.setUint32(16, data.length, true);
    v.setUint32(20, log.size, true);
    v.setUint32(24, 1, true);
    try {
      return bpf(BpfCmd.BTF_LOAD, attr, 'BPF_BTF_LOAD');
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      const end = log.bytes.indexOf(0);
      const text = new TextDecoder().decode(log.bytes.subarray(0, end < 0 ? log.size : end)).trim().split('\n').at(-1) ?? '';
      throw new SyscallError('BPF_BTF_LOAD', e.errno, text);
    }
  });
}

export interface ProgLoadOptions {
  readonly insns: Uint8Array;
  readonly type?: number;
  readonly flags?: number;
  readonly license?: string;
  readonly logLevel?: number;
  /** Log buffer size in bytes (level 2 logs of long programs are large). */
  readonly logSize?: number;
  readonly name?: string;
  /** Program BTF (an fd from btfLoad) and func_info: one BTF FUNC id per function start (callbacks need it). */
  readonly btfFd?: number;
  readonly funcInfo?: readonly FuncInfo[];
}

export interface FuncInfo {
  readonly insnOff: number;
  readonly typeId: number;
}

export interface ProgLoadResult {
  readonly fd: number;
  readonly log: string;
}

/** The verifier refused the program (or the load failed otherwise); `log` is the verifier's text. */
export class ProgLoadError extends SyscallError {
  constructor(
    errno: number,
    readonly log: string,
    /** log_true_size: the bytes the whole log needs. */
    readonly trueSize = 0,
  ) {
    super('BPF_PROG_LOAD', errno, verifierReason(log));
    this.name = 'ProgLoadError';
  }
}

/** The verifier's complaint: the last log line that is not a statistics line. */
export function verifierReason(log: string): string {
  const lines = log.split('\n').filter((l) => l.trim() !== '' && !/^(processed |stack depth |verification time )/.test(l));
  return lines.at(-1) ?? '';
}

/** BPF_PROG_LOAD (default: syscall program, sleepable, GPL). A log that did not fit is retried larger. */
export function progLoad(o: ProgLoadOptions): ProgLoadResult {
  let logSize = o.logSize ?? 1 << 20;
  for (;;) {
    try {
      return progLoadOnce(o, logSize);
    } catch (e) {
      const grow = e instanceof ProgLoadError && e.errno === ENOSPC && (o.logLevel ?? LogLevel.STATS) !== 0 && logSize < 1 << 30;
      if (!grow) throw e;
      logSize = Math.max(logSize * 4, (e as ProgLoadError).trueSize + 1);
    }
  }
}

const ENOSPC = 28;

function progLoadOnce(o: ProgLoadOptions, size: number): ProgLoadResult {
  const insns = NativeBuffer.from(o.insns);
  const license = NativeBuffer.from(new TextEncoder().encode(`${o.license ?? 'GPL'}\0`));
  const logLevel = o.logLevel ?? LogLevel.STATS;
  const logSize = logLevel ? size : 0;
  const log = new NativeBuffer(Math.max(logSize, 1));
  const attr = new NativeBuffer(ATTR_SIZE);
  const fi = o.funcInfo ?? [];
  const funcInfo = new NativeBuffer(fi.length * 8);
  fi.forEach((f, i) => {
    funcInfo.view.setUint32(i * 8, f.insnOff, true);
    funcInfo.view.setUint32(i * 8 + 4, f.typeId, true);
  });
  return withBuffers([insns, license, log, attr, funcInfo], () => {
    const v = attr.view;
    if (o.btfFd !== undefined && fi.length > 0) {
      v.setUint32(72, o.btfFd, true);
      v.setUint32(76, 8, true);
      v.setBigUint64(80, funcInfo.addr, true);
      v.setUint32(88, fi.length, true);
    }
    v.setUint32(0, o.type ?? ProgType.SYSCALL, true);
    v.setUint32(4, o.insns.length / 8, true);
    v.setBigUint64(8, insns.addr, true);
    v.setBigUint64(16, license.addr, true);
    v.setUint32(24, logLevel, true);
    v.setUint32(28, logSize, true);
    v.setBigUint64(32, logLevel ? log.addr : 0n, true);
    v.setUint32(44, o.flags ?? ProgFlag.SLEEPABLE, true);
    attr.bytes.set(new TextEncoder().encode((o.name ?? '').slice(0, 15)), 48);
    const text = (): string => {
      const end = log.bytes.indexOf(0);
      return new TextDecoder().decode(log.bytes.subarray(0, end < 0 ? log.size : end));
    };
    try {
      return { fd: bpf(BpfCmd.PROG_LOAD, attr, 'BPF_PROG_LOAD'), log: text() };
    } catch (e) {
      if (e instanceof SyscallError) throw new ProgLoadError(e.errno, text(), v.getUint32(140, true));
      throw e;
    }
  });
}

export interface ProgInfo {
  readonly jited: Uint8Array;
  readonly xlated: Uint8Array;
  /** Image address of each function (main first). */
  readonly ksyms: readonly bigint[];
  readonly funcLens: readonly number[];
  readonly mapIds: readonly number[];
  readonly verifiedInsns: number;
  readonly id: number;
  readonly tag: string;
}

const PROG_INFO_SIZE = 232;

function getInfo(fd: number, info: NativeBuffer, what: string): void {
  const attr = new NativeBuffer(ATTR_SIZE);
  withBuffers([attr], () => {
    attr.view.setUint32(0, fd, true);
    attr.view.setUint32(4, info.size, true);
    attr.view.setBigUint64(8, info.addr, true);
    bpf(BpfCmd.OBJ_GET_INFO_BY_FD, attr, `BPF_OBJ_GET_INFO_BY_FD (${what})`);
  });
}

/** BPF_OBJ_GET_INFO_BY_FD of a program, twice: first the lengths, then the arrays. */
export function progInfo(fd: number): ProgInfo {
  const first = new NativeBuffer(PROG_INFO_SIZE);
  const lens = withBuffers([first], () => {
    getInfo(fd, first, 'program lengths');
    const v = first.view;
    return {
      jited: v.getUint32(16, true),
      xlated: v.getUint32(20, true),
      maps: v.getUint32(52, true),
      ksyms: v.getUint32(104, true),
      funcLens: v.getUint32(108, true),
    };
  });
  const jited = new NativeBuffer(lens.jited);
  const xlated = new NativeBuffer(lens.xlated);
  const maps = new NativeBuffer(lens.maps * 4);
  const ksyms = new NativeBuffer(lens.ksyms * 8);
  const funcLens = new NativeBuffer(lens.funcLens * 4);
  const info = new NativeBuffer(PROG_INFO_SIZE);
  return withBuffers([jited, xlated, maps, ksyms, funcLens, info], () => {
    const v = info.view;
    v.setUint32(16, lens.jited, true);
    v.setUint32(20, lens.xlated, true);
    v.setBigUint64(24, jited.addr, true);
    v.setBigUint64(32, xlated.addr, true);
    v.setUint32(52, lens.maps, true);
    v.setBigUint64(56, maps.addr, true);
    v.setUint32(104, lens.ksyms, true);
    v.setUint32(108, lens.funcLens, true);
    v.setBigUint64(112, ksyms.addr, true);
    v.setBigUint64(120, funcLens.addr, true);
    getInfo(fd, info, 'program arrays');
    const u32s = (b: NativeBuffer, n: number) => Array.from({ length: n }, (_, i) => b.view.getUint32(i * 4, true));
    return {
      jited: jited.copy(v.getUint32(16, true)),
      xlated: xlated.copy(v.getUint32(20, true)),
      ksyms: Array.from({ length: lens.ksyms }, (_, i) => ksyms.view.getBigUint64(i * 8, true)),
      funcLens: u32s(funcLens, lens.funcLens),
      mapIds: u32s(maps, lens.maps),
      verifiedInsns: v.getUint32(216, true),
      id: v.getUint32(4, true),
      tag: Buffer.from(info.bytes.subarray(8, 16)).toString('hex'),
    };
  });
}

/** The id of a map (BPF_OBJ_GET_INFO_BY_FD on a map fd). */
export function mapId(fd: number): number {
  const info = new NativeBuffer(88);
  return withBuffers([info], () => {
    getInfo(fd, info, 'map');
    return info.view.getUint32(4, true);
  });
}

export interface TestRunResult {
  readonly retval: number;
  /** The context after the run (syscall programs copy it back into ctx_in). */
  readonly ctxOut: Uint8Array;
  /** Wall time of the bpf() call, measured from user space (syscall programs have no `duration`). */
  readonly wallNs: number;
}

/** BPF_PROG_TEST_RUN of a syscall program with a context, run on CPU 0. */
export function testRun(fd: number, ctx: Uint8Array): TestRunResult {
  const ctxBuf = NativeBuffer.from(ctx);
  const attr = new NativeBuffer(ATTR_SIZE);
  return withBuffers([ctxBuf, attr], () => {
    const v = attr.view;
    v.setUint32(0, fd, true);
    v.setUint32(40, ctx.length, true);
    v.setBigUint64(48, ctx.length ? ctxBuf.addr : 0n, true);
    // On CPU 0, as the emulator: bpf_get_smp_processor_id and per-CPU reads give the same CPU.
    const wallNs = onCpu0(() => {
      const t0 = process.hrtime.bigint();
      bpf(BpfCmd.PROG_TEST_RUN, attr, 'BPF_PROG_TEST_RUN');
      return Number(process.hrtime.bigint() - t0);
    });
    return { retval: v.getUint32(4, true), ctxOut: ctxBuf.copy(), wallNs };
  });
}

export { closeFd };
