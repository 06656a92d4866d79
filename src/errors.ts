// Errors shared by every layer: a problem is always located (instruction index or byte offset),
// and several problems can travel together so a user sees all of them at once.

export interface Diagnostic {
  /** Instruction (slot) index the problem belongs to. */
  readonly insn?: number;
  /** Byte offset in an input file, when there is no instruction to name. */
  readonly byteOffset?: number;
  readonly message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  if (d.insn !== undefined) return `insn ${d.insn}: ${d.message}`;
  if (d.byteOffset !== undefined) return `byte offset ${d.byteOffset}: ${d.message}`;
  return d.message;
}

/** A user-facing error about bad input (exit code 1 in the CLI). */
export class BpfError extends Error {
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: Diagnostic | readonly Diagnostic[]) {
    const list = Array.isArray(diagnostics) ? (diagnostics as readonly Diagnostic[]) : [diagnostics as Diagnostic];
    super(list.map(formatDiagnostic).join('\n'));
    this.name = 'BpfError';
    this.diagnostics = list;
  }
}

export function insnError(insn: number, message: string): BpfError {
  return new BpfError({ insn, message });
}

/** A command-line usage problem (exit code 2 in the CLI). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
