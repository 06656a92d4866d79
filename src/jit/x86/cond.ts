// Condition codes by their hardware tttn value: Jcc rel8 = 0x70 | cc, Jcc rel32 = 0x0f 0x80 | cc,
// CMOVcc = 0x0f 0x40 | cc. Inverting a condition flips the low bit.

export const Cond = {
  O: 0x0,
  NO: 0x1,
  B: 0x2,
  AE: 0x3,
  E: 0x4,
  NE: 0x5,
  BE: 0x6,
  A: 0x7,
  S: 0x8,
  NS: 0x9,
  P: 0xa,
  NP: 0xb,
  L: 0xc,
  GE: 0xd,
  LE: 0xe,
  G: 0xf,
} as const;
export type Cond = (typeof Cond)[keyof typeof Cond];

export function invert(cc: Cond): Cond {
  return (cc ^ 1) as Cond;
}
