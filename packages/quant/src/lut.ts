// Group-quantized matrices (RTN / SINQ codes) in the T-MAC LUT weight format of @qgpu/formats (methods.md §5), the
// GPU format that runs asymmetric b-bit group codes directly: w = s·(q − z) per group, bit-planes per 32 columns.
// The conversion is exact: the same codes, scales and zero points. LUT groups are 32 or 64 columns; a group of 128
// becomes two groups of 64 carrying the same (s, z), which is the same matrix.
import { checkLutShape, type LutBits, type LutGroup, type LutWeights } from '@qgpu/formats';
import type { GroupQuantized } from './groups.ts';

/**
 * Bit i of code q[r, c] goes to plane word (r·(cols/32) + ⌊c/32⌋)·bits + i, bit 4·⌊(c mod 32)/4⌋ + (c mod 4): the
 * layout documented in @qgpu/formats lut/ (checked against its `lutCode` reader in lut.test.ts).
 */
export function lutFromGroups(q: GroupQuantized): LutWeights {
  const group: LutGroup = q.group === 32 ? 32 : 64;
  const split = q.group / group;
  const bits = q.bits as LutBits;
  checkLutShape(q.rows, q.cols, bits, group);
  const planes = new Uint32Array(q.rows * (q.cols / 32) * bits);
  for (let r = 0; r < q.rows; r++) {
    for (let c = 0; c < q.cols; c++) {
      const code = q.codes[r * q.cols + c]!;
      const word = (r * (q.cols / 32) + (c >> 5)) * bits;
      const shift = 4 * ((c & 31) >> 2) + (c & 3);
      for (let i = 0; i < bits; i++) planes[word + i]! |= ((code >> i) & 1) << shift;
    }
  }
  const repeat = (v: Float32Array) => (split === 1 ? Float32Array.from(v) : Float32Array.from({ length: v.length * split }, (_, i) => v[Math.floor(i / split)]!));
  return { rows: q.rows, cols: q.cols, bits, group, planes, scales: repeat(q.scales), zeros: repeat(q.zeros) };
}
