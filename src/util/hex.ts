/** An address or a word as the kernel prints it: 0x… in lower case. */
export const hex = (n: number): string => `0x${n.toString(16)}`;
