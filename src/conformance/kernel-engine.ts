// The running kernel as a conformance engine: each test is loaded as a BPF_PROG_TYPE_SYSCALL program and
// run once with BPF_PROG_TEST_RUN, the input memory being the context (r1). The kernel does not set r2,
// so one first instruction `r2 = len` is added. Only the low 32 bits of r0 come back (retval), and the
// verifier is stricter than the ISA (e.g. no arithmetic on the context pointer): such refusals are errors.
import { formatDiagnostic } from '../errors.js';
import { decode } from '../isa/codec.js';
import { validate } from '../isa/validate.js';
import { closeFd, ProgLoadError, progLoad, testRun } from '../kernel/bpf.js';
import { requireBpf, SyscallError } from '../kernel/sys.js';
import type { ConformanceEngine, EngineResult } from './engine.js';
import { DEFAULT_GROUPS } from './requirements.js';

function withLength(bytecode: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(bytecode.length + 8);
  const v = new DataView(out.buffer);
  v.setUint8(0, 0xb7); // mov64 r2, imm
  v.setUint8(1, 2);
  v.setInt32(4, length | 0, true);
  out.set(bytecode, 8);
  return out;
}

export function createConformanceEngine(): ConformanceEngine {
  requireBpf();
  return {
    name: 'kernel',
    groups: DEFAULT_GROUPS,
    run(bytecode, mem): EngineResult {
      const problems = validate(decode(bytecode), 'standard');
      if (problems.length > 0) return { ok: false, error: formatDiagnostic(problems[0]!) };
      let fd: number;
      try {
        fd = progLoad({ insns: withLength(bytecode, mem.length), logLevel: 1, name: 'conformance' }).fd;
      } catch (e) {
        if (e instanceof ProgLoadError) return { ok: false, error: `verifier: ${e.message}` };
        throw e;
      }
      try {
        return { ok: true, r0: BigInt(testRun(fd, mem).retval >>> 0), width: 32 };
      } catch (e) {
        if (e instanceof SyscallError) return { ok: false, error: e.message };
        throw e;
      } finally {
        closeFd(fd);
      }
    },
  };
}
