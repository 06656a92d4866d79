// `bpfjit demo`: what `npm start` runs on the bundled example.
import type { Command } from './command.js';
import { Exit, parseCommandArgs } from './command.js';

export const demo: Command = {
  name: 'demo',
  summary: 'show what bpfjit does on a bundled example',
  help: `Usage: bpfjit demo

Shows bpfjit at work on a bundled example program.`,
  run(argv) {
    parseCommandArgs(argv, {});
    console.log('bpfjit: nothing to demo yet');
    return Exit.OK;
  },
};
