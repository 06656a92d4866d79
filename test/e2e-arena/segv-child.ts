// Child process of segv.test.ts: user space reading a missing page of a live kernel arena. With
// BPF_F_SEGV_ON_FAULT the read kills this process with SIGSEGV; without it the page is allocated (printed).
import { KernelArena } from '../../src/kernel/index.js';

const flag = process.argv[2] === 'segv' ? 1 << 17 : 0;
const arena = KernelArena.create({ pages: 4, flags: flag, map_extra: 0x100000000n });
try {
  const bytes = arena.readPage(2); // a user read of page 2, which nobody allocated
  console.log(JSON.stringify({ read: bytes.every((b) => b === 0) ? 'zero' : 'data', allocated: arena.probe().allocated }));
} finally {
  arena.close();
}
