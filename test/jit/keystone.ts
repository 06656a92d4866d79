// keystone-wasm, an independent assembler, for expected encodings in tests (Intel syntax, default radix).
import { Const, Keystone, loadKeystone } from 'keystone-wasm';

let ks: Keystone | undefined;

export async function assembler(): Promise<(text: string) => string> {
  if (!ks) {
    await loadKeystone();
    ks = new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64);
  }
  const k = ks;
  return (text) => Buffer.from(k.asm(text)).toString('hex');
}
