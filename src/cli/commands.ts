// The registry of commands: one line per command, each defined in its own module.
import type { Command } from './command.js';
import { asm } from './asm.js';
import { demo } from './demo.js';
import { disasm } from './disasm.js';
import { info } from './info.js';
import { jitCmd } from './jit.js';
import { dumpCmd } from './dump.js';
import { kernelCmd } from './kernel.js';
import { diffCmd } from './diff.js';
import { corpusCmd } from './corpus.js';
import { conformance, conformancePlugin } from './conformance.js';
import { run } from './run.js';

export const COMMANDS: readonly Command[] = [demo, info, asm, disasm, jitCmd, dumpCmd, kernelCmd, diffCmd, corpusCmd, conformance, conformancePlugin, run];
