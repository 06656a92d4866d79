// bpf_trace_printk's format language and output limits, as Linux 6.18 applies them (the bstr_printf subset
// bpf_trace_printk accepts) — shared by both engines, so the emulator and the interpreter print alike.

/** The kernel formats into a 1024-byte buffer (MAX_BPRINTF_BUF): at most 1023 characters per line. */
export const PRINTK_MAX_LINE = 1023;
/** Lines kept per run; later ones are counted, not stored, so a printing loop cannot exhaust host memory. */
export const PRINTK_MAX_LINES = 10_000;

/** Guest memory as a helper sees it: `size` bytes at `addr`, or null when any of them is not readable. */
export type ReadGuest = (addr: bigint, size: number) => Uint8Array | null;

/** A NUL-terminated string of at most `max` bytes at `addr` (latin1), or null when unreadable. */
export function readCString(read: ReadGuest, addr: bigint, max: number): string | null {
  const bytes = read(addr, max);
  if (!bytes) return null;
  const end = bytes.indexOf(0);
  return Buffer.from(end >= 0 ? bytes.subarray(0, end) : bytes).toString('latin1');
}

/** The kernel's bstr_printf subset bpf_trace_printk accepts: %d %i %u %x %X %c %s %p with l/ll, and %%. */
export function formatPrintk(read: ReadGuest, fmt: string, args: readonly bigint[]): string {
  let argi = 0;
  return fmt.replace(/%(-?\d*)(ll|l|h|hh)?([diuxXcsp%])/g, (_m, width: string, len: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    const raw = args[argi++] ?? 0n;
    const v = len === 'l' || len === 'll' ? raw : BigInt.asUintN(32, raw);
    let text: string;
    switch (conv) {
      case 'd':
      case 'i':
        text = (len === 'l' || len === 'll' ? BigInt.asIntN(64, v) : BigInt.asIntN(32, v)).toString();
        break;
      case 'u':
        text = v.toString();
        break;
      case 'x':
        text = v.toString(16);
        break;
      case 'X':
        text = v.toString(16).toUpperCase();
        break;
      case 'c':
        text = String.fromCharCode(Number(v & 0xffn));
        break;
      case 's':
        text = readCString(read, raw, 64) ?? '(efault)';
        break;
      default:
        text = `0x${BigInt.asUintN(64, raw).toString(16)}`;
    }
    const w = Math.min(Math.abs(Number(width || 0)), PRINTK_MAX_LINE);
    return width.startsWith('-') ? text.padEnd(w) : text.padStart(w);
  });
}

/**
 * bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3): formats one line into `out` (cut at PRINTK_MAX_LINE,
 * at most PRINTK_MAX_LINES kept) and returns what the helper returns: the line's length, or -EINVAL for an
 * unreadable or oversized format.
 */
export function tracePrintk(read: ReadGuest, out: string[], fmtAddr: bigint, fmtSize: bigint, args: readonly bigint[]): bigint {
  const size = BigInt.asUintN(32, fmtSize);
  const fmt = size > 0n && size <= 1024n ? readCString(read, fmtAddr, Number(size)) : null;
  if (fmt === null) return -22n; // -EINVAL
  const line = formatPrintk(read, fmt, args).slice(0, PRINTK_MAX_LINE);
  if (out.length < PRINTK_MAX_LINES) out.push(line);
  else if (out.length === PRINTK_MAX_LINES) out.push(`(bpfjit: more than ${PRINTK_MAX_LINES} printk lines in this run; the rest are not kept)`);
  return BigInt(Buffer.byteLength(line));
}
