// The reference interpreter as a conformance engine (with the interpreter's Linux helpers).
import { formatDiagnostic } from '../errors.js';
import { BpfError } from '../errors.js';
import { decode } from '../isa/codec.js';
import { validate } from '../isa/validate.js';
import { interpret } from '../interp/interp.js';
import { LINUX_HELPERS } from '../interp/helpers.js';
import type { ConformanceEngine, EngineResult } from './engine.js';
import { DEFAULT_GROUPS } from './requirements.js';

export const interpEngine: ConformanceEngine = {
  name: 'interp',
  groups: [...DEFAULT_GROUPS, 'callx'],
  run(bytecode: Uint8Array, mem: Uint8Array): EngineResult {
    try {
      const prog = decode(bytecode);
      // Like a loader, refuse malformed programs before running them; report the first problem.
      const problems = validate(prog, 'standard');
      if (problems.length > 0) return { ok: false, error: formatDiagnostic(problems[0]!) };
      const res = interpret(prog, { mem, helpers: LINUX_HELPERS });
      if (res.fault) return { ok: false, error: formatDiagnostic(res.fault) };
      return { ok: true, r0: res.r0 };
    } catch (e) {
      if (e instanceof BpfError) return { ok: false, error: formatDiagnostic(e.diagnostics[0]!) };
      throw e;
    }
  },
};
