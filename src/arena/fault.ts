// The user-space view's SIGSEGV, as a typed error.

export type ArenaFaultReason = 'outside' | 'segv-on-fault';

/** A user-space access the kernel answers with SIGSEGV. */
export class ArenaFault extends Error {
  readonly addr: bigint;
  readonly write: boolean;
  readonly reason: ArenaFaultReason;
  constructor(reason: ArenaFaultReason, addr: bigint, write: boolean) {
    const what = reason === 'outside' ? 'outside the arena mapping' : 'to a page not allocated (BPF_F_SEGV_ON_FAULT)';
    super(`arena: SIGSEGV: user ${write ? 'write' : 'read'} at 0x${addr.toString(16)} ${what}`);
    this.name = 'ArenaFault';
    this.reason = reason;
    this.addr = addr;
    this.write = write;
  }
}
