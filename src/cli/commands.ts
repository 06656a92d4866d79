// The registry of commands: one line per command, each defined in its own module.
import type { Command } from './command.js';
import { demo } from './demo.js';

export const COMMANDS: readonly Command[] = [demo];
