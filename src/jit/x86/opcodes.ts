// Opcode tables shared by the assembler: ALU group opcodes, /digit extensions, and the NOP table.

/** Two-operand ALU ops: register form opcode (op r/m, reg), /digit for the 0x81/0x83 group, short rax form. */
export interface AluForm {
  readonly rm: number;
  readonly digit: number;
  readonly raxImm: number;
}

export const Alu = {
  ADD: { rm: 0x01, digit: 0, raxImm: 0x05 },
  OR: { rm: 0x09, digit: 1, raxImm: 0x0d },
  AND: { rm: 0x21, digit: 4, raxImm: 0x25 },
  SUB: { rm: 0x29, digit: 5, raxImm: 0x2d },
  XOR: { rm: 0x31, digit: 6, raxImm: 0x35 },
  CMP: { rm: 0x39, digit: 7, raxImm: 0x3d },
} as const satisfies Record<string, AluForm>;

/** /digit of the shift group (0xc1, 0xd1, 0xd3). */
export const Shift = { ROL: 0, ROR: 1, SHL: 4, SHR: 5, SAR: 7 } as const;
export type Shift = (typeof Shift)[keyof typeof Shift];

/** VEX.pp of the BMI2 shifts (shlx 66, sarx f3, shrx f2). */
export const ShiftX = { SHLX: 1, SARX: 2, SHRX: 3 } as const;
export type ShiftX = (typeof ShiftX)[keyof typeof ShiftX];

/** Linux's x86_nops[] (P6 nops) for lengths 1..8; ASM_NOP_MAX is 8. */
export const NOPS: readonly (readonly number[])[] = [
  [],
  [0x90],
  [0x66, 0x90],
  [0x0f, 0x1f, 0x00],
  [0x0f, 0x1f, 0x40, 0x00],
  [0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
  [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];
export const NOP_MAX = 8;
