// Reader of bpf_conformance `.data` test files, following the suite's own parser
// (Alan-Jowett/bpf_conformance src/bpf_test_parser.cc) rule for rule, quirks included:
// - a line containing `--` anywhere switches section by the first keyword it contains, checked in the
//   order asm, result, mem, raw, "no register offset" (ignored), " c" (ignored), error; any other `--`
//   line makes the whole file skipped ("unknown directive"), e.g. `-- map`;
// - empty lines are ignored; in `-- asm` a `#` starts a comment; `# ...` lines elsewhere are kept only
//   by sections that read them (result/error keep their last line, mem/raw parse numbers);
// - `-- result`: the last non-empty line; "0x" anywhere → hex, else decimal (stoull: leading part,
//   a minus sign wraps modulo 2^64); `-- error`: the last non-empty line, compared exactly;
// - `-- raw`: whitespace-separated u64 (0x-prefixed hex or decimal), one per instruction slot; it wins
//   over `-- asm`; `-- mem`: whitespace-separated hex bytes (parsing stops at the first bad token);
// - a file with neither result nor error, or without instructions, is skipped.
import { BpfError } from '../errors.js';

export interface DataTest {
  readonly name: string;
  /** The assembly text of `-- asm` (comments removed), when there is no `-- raw`. */
  readonly asm: string | null;
  /** Bytecode from `-- raw`. */
  readonly raw: Uint8Array | null;
  /** Input memory (`-- mem`), possibly empty. */
  readonly mem: Uint8Array;
  /** Expected r0 (u64); 0 when only an error is expected. */
  readonly result: bigint;
  /** Expected error message (non-zero exit); '' when a result is expected. */
  readonly error: string;
}

export type DataFile = { readonly kind: 'test'; readonly test: DataTest } | { readonly kind: 'skip'; readonly reason: string };

type State = 'ignore' | 'asm' | 'raw' | 'result' | 'mem' | 'error';

/** std::stoull on the leading part of a string: base 10 or 16 (accepting 0x), optional sign; null if no digits. */
export function stoull(text: string, base: 10 | 16): bigint | null {
  const m = base === 16 ? /^\s*([+-]?)(?:0[xX])?([0-9a-fA-F]+)/.exec(text) : /^\s*([+-]?)([0-9]+)/.exec(text);
  if (!m) return null;
  const v = BigInt(base === 16 ? `0x${m[2]}` : m[2]!);
  if (v >= 1n << 64n) return null; // out_of_range in C++
  return BigInt.asUintN(64, m[1] === '-' ? -v : v);
}

export function parseDataFile(text: string, name: string): DataFile {
  let state: State = 'ignore';
  const asm: string[] = [];
  let result = '';
  let mem = '';
  let error = '';
  let raw = '';
  for (let line of text.split('\n')) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.includes('--')) {
      if (line.includes('asm')) state = 'asm';
      else if (line.includes('result')) state = 'result';
      else if (line.includes('mem')) state = 'mem';
      else if (line.includes('raw')) state = 'raw';
      else if (line.includes('no register offset')) state = 'ignore';
      else if (line.includes(' c')) state = 'ignore';
      else if (line.includes('error')) state = 'error';
      else return { kind: 'skip', reason: `unknown directive '${line.trim()}'` };
      continue;
    }
    if (line === '') continue;
    switch (state) {
      case 'asm': {
        const hash = line.indexOf('#');
        asm.push(hash >= 0 ? line.slice(0, hash) : line);
        break;
      }
      case 'result':
        result = line;
        break;
      case 'mem':
        mem += ` ${line}`;
        break;
      case 'error':
        error = line;
        break;
      case 'raw':
        raw += ` ${line}`;
        break;
      case 'ignore':
        break;
    }
  }
  if (error === '' && result === '') return { kind: 'skip', reason: 'no result or error in the test file' };

  let expected = 0n;
  if (result !== '') {
    const v = result.includes('0x') ? stoull(result, 16) : stoull(result, 10);
    if (v === null) throw new BpfError({ message: `${name}: invalid result '${result}'` });
    expected = v;
  }

  let rawBytes: Uint8Array | null = null;
  if (raw.trim() !== '') {
    const words = raw.trim().split(/\s+/);
    rawBytes = new Uint8Array(words.length * 8);
    const view = new DataView(rawBytes.buffer);
    words.forEach((w, i) => {
      const v = w.startsWith('0x') ? stoull(w, 16) : stoull(w, 10);
      if (v === null) throw new BpfError({ message: `${name}: invalid raw instruction '${w}' (slot ${i})` });
      view.setBigUint64(i * 8, v, true);
    });
  }
  const asmText = asm.join('\n');
  if (!rawBytes && asmText.trim() === '') return { kind: 'skip', reason: 'no instructions in the test file' };

  // `ss >> std::hex >> value` into a u32, truncated to a byte; stops at the first token that is not hex.
  const memBytes: number[] = [];
  for (const token of mem.trim() === '' ? [] : mem.trim().split(/\s+/)) {
    const v = stoull(token, 16);
    if (v === null || v > 0xffffffffn) break;
    memBytes.push(Number(v & 0xffn));
  }

  return {
    kind: 'test',
    test: {
      name,
      asm: rawBytes ? null : asmText,
      raw: rawBytes,
      mem: Uint8Array.from(memBytes),
      result: expected,
      error,
    },
  };
}
