// The registry of commands: one line per command, each defined in its own module and loaded only when
// dispatched, so start-up stays lean (the conformance plugin is run once per test).
import type { Command } from './command.js';

export interface CommandEntry {
  readonly name: string;
  /** One line for `bpfjit --help`. */
  readonly summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'demo', summary: 'show what bpfjit does on a bundled example', load: async () => (await import('./demo.js')).demo },
  { name: 'info', summary: 'list the programs, maps, arena and BTF of a BPF object file (.o)', load: async () => (await import('./info.js')).info },
  { name: 'asm', summary: 'assemble BPF text (kernel verifier-log or bpf_conformance syntax) into bytecode', load: async () => (await import('./asm.js')).asm },
  { name: 'disasm', summary: 'print a BPF program in the kernel verifier-log syntax (N: (op) text)', load: async () => (await import('./disasm.js')).disasm },
  { name: 'jit', summary: 'compile a kernel-xlated BPF program to x86-64 exactly as the Linux JIT does', load: async () => (await import('./jit.js')).jitCmd },
  { name: 'dump', summary: 'show each BPF instruction next to the x86-64 it became', load: async () => (await import('./dump.js')).dumpCmd },
  { name: 'run', summary: 'JIT a program and run the x86-64 code on an emulated CPU', load: async () => (await import('./run.js')).run },
  { name: 'kernel', summary: 'the running kernel as reference: its JIT image (kernel jit) and result (kernel run)', load: async () => (await import('./kernel.js')).kernelCmd },
  { name: 'diff', summary: "compare bpfjit's JIT byte for byte with the running kernel's on a program", load: async () => (await import('./diff.js')).diffCmd },
  { name: 'corpus', summary: 'build a kernel corpus of random programs (corpus build), or measure bpfjit against one (corpus check)', load: async () => (await import('./corpus.js')).corpusCmd },
  { name: 'conformance', summary: 'run bpf_conformance .data tests (PASS/FAIL/SKIP per test)', load: async () => (await import('./conformance.js')).conformance },
  { name: 'conformance-plugin', summary: 'bpf_conformance plugin: program hex on stdin, memory hex as argument, prints r0', load: async () => (await import('./conformance.js')).conformancePlugin },
];
