// Byte access to arena memory from TypeScript: the user view (by user address, faulting pages in like a
// process touching its mmap) and the kernel view (by 32-bit offset from kern_vm_start, like the JIT's
// PROBE_MEM32 accesses: a missing page reads as zeros and swallows writes). Every access is cut at page
// boundaries and lands in one page's own 4096 bytes, so no address can reach other host memory.
import type { Arena } from './arena.js';
import { PAGE_SIZE, U32 } from './constants.js';

const PAGE = BigInt(PAGE_SIZE);
const MAX_ACCESS = 2 ** 32;

function checkAccess(addr: bigint, len: number, what: string): void {
  if (!Number.isSafeInteger(len) || len < 0 || len > MAX_ACCESS) throw new RangeError(`arena: ${what} length ${len} is not 0 .. 4 GiB`);
  if (addr < 0n || addr + BigInt(len) > 1n << 64n) throw new RangeError(`arena: ${what} at ${addr} is not a 64-bit address range`);
}

/** Calls fn(pageAddr-relative offset, chunk length, position in the access) for each page-sized piece. */
function eachChunk(addr: bigint, len: number, fn: (a: bigint, off: number, n: number, pos: number) => void): void {
  let pos = 0;
  while (pos < len) {
    const a = addr + BigInt(pos);
    const off = Number(a % PAGE);
    const n = Math.min(PAGE_SIZE - off, len - pos);
    fn(a, off, n, pos);
    pos += n;
  }
}

/** Reads user memory; a missing page is faulted in (or ArenaFault under BPF_F_SEGV_ON_FAULT / outside the mapping). */
export function readUser(arena: Arena, addr: bigint, len: number): Uint8Array {
  checkAccess(addr, len, 'user read');
  const out = new Uint8Array(len);
  eachChunk(addr, len, (a, off, n, pos) => out.set(arena.userFault(a, false).bytes.subarray(off, off + n), pos));
  return out;
}

/** Writes user memory, page by page in address order (a fault stops it after the pages before). */
export function writeUser(arena: Arena, addr: bigint, data: Uint8Array): void {
  checkAccess(addr, data.length, 'user write');
  eachChunk(addr, data.length, (a, off, n, pos) => arena.userFault(a, true).bytes.set(data.subarray(pos, pos + n), off));
}

const le = (b: Uint8Array): bigint => {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
};
const toLe = (v: bigint, size: number): Uint8Array => {
  const b = new Uint8Array(size);
  let x = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size; i++, x >>= 8n) b[i] = Number(x & 0xffn);
  return b;
};

/** Little-endian unsigned load of 1, 2, 4 or 8 bytes at a user address. */
export function readUserUint(arena: Arena, addr: bigint, size: 1 | 2 | 4 | 8): bigint {
  return le(readUser(arena, addr, size));
}

export function writeUserUint(arena: Arena, addr: bigint, size: 1 | 2 | 4 | 8, value: bigint | number): void {
  writeUser(arena, addr, toLe(BigInt(value), size));
}

function checkKern(off: number, len: number): void {
  if (!Number.isSafeInteger(off) || off < 0 || off >= MAX_ACCESS) throw new RangeError(`arena: kernel offset ${off} is not a u32`);
  if (!Number.isSafeInteger(len) || len < 0 || off + len > MAX_ACCESS) throw new RangeError(`arena: kernel access of ${len} bytes at ${off} leaves the 4 GiB`);
}

/** Kernel view by u32 offset from kern_vm_start: missing pages read as zeros (PROBE_MEM32 semantics). */
export function readKern(arena: Arena, off32: number, len: number): Uint8Array {
  checkKern(off32, len);
  const out = new Uint8Array(len);
  eachChunk(BigInt(off32), len, (a, off, n, pos) => {
    const page = arena.pageAtKernOffset(Number(a & U32));
    if (page) out.set(page.bytes.subarray(off, off + n), pos);
  });
  return out;
}

/** Kernel view write; bytes for missing pages are dropped. Returns whether every byte landed. */
export function writeKern(arena: Arena, off32: number, data: Uint8Array): boolean {
  checkKern(off32, data.length);
  let all = true;
  eachChunk(BigInt(off32), data.length, (a, off, n, pos) => {
    const page = arena.pageAtKernOffset(Number(a & U32));
    if (page) page.bytes.set(data.subarray(pos, pos + n), off);
    else all = false;
  });
  return all;
}

export { le as leToBigint, toLe as bigintToLe };
