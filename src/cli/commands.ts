// The registry of commands: one line per command, each defined in its own module.
import type { Command } from './command.js';
import { asm } from './asm.js';
import { demo } from './demo.js';
import { disasm } from './disasm.js';
import { info } from './info.js';
import { jitCmd } from './jit.js';

export const COMMANDS: readonly Command[] = [demo, info, asm, disasm, jitCmd];
