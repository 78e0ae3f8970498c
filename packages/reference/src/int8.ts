// CPU twins of the int8 ("dp4a") path: the activation quantizers (per block of 32 as ggml's Q8_1, and CrossQuant)
// and the integer-dot matmuls on the repacked GGUF parts. Unlike ops.ts these twins reproduce the kernels' own
// arithmetic rather than the ideal math: the quantizers round every step to f32 exactly where the WGSL does (so
// codes agree except next to a rounding edge, where WGSL's 2.5-ulp division may land on the other side), and the
// matmuls form the exact integer sums and the same per-block formulas (methods.md §8.3), in double.
import { f16ToF32 } from '@qgpu/formats';

/** Activations quantized to int8 per block of 32, in the GPU layout of shaders/lib/quant/q8_act.wgsl. */
export interface Int8Activations {
  /** 8 words per block: code i of the block in byte i % 4 (little-endian, two's complement) of word i / 4. */
  readonly xq: Uint32Array;
  /** Scale per block: x ≈ xd·q. */
  readonly xd: Float32Array;
  /** xd·Σq per block. */
  readonly xs: Float32Array;
}

/** Weight formats with an integer-dot kernel. */
export type Dp4aWeightType = 'Q8_0' | 'Q4_0' | 'Q4_K';

const f = Math.fround;

/** Round half to even, as WGSL `round` (and ggml's `nearest_int`). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkShape(what: string, x: ArrayLike<number>, nTokens: number, cols: number): void {
  if (cols % 32 !== 0) throw new RangeError(`${what}: cols ${cols} is not a multiple of 32`);
  if (x.length !== nTokens * cols) throw new RangeError(`${what}: expected ${nTokens * cols} values, got ${x.length}`);
}

/** Packs 32 codes per block (already clamped to int8) into words and fills xs = d·Σq. */
function pack(codes: Int32Array, xd: Float32Array): Int8Activations {
  const blocks = xd.length;
  const xq = new Uint32Array(blocks * 8);
  const xs = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    let sum = 0;
    for (let i = 0; i < 32; i++) {
      const q = codes[32 * b + i]!;
      sum += q;
      xq[8 * b + (i >> 2)] = (xq[8 * b + (i >> 2)]! | ((q & 0xff) << (8 * (i & 3)))) >>> 0;
    }
    xs[b] = xd[b]! * sum;
  }
  return { xq, xd, xs };
}

/**
 * quantize_act_q8: per block of 32, d = amax/127 and q = round_half_even(x·(1/d)), each step rounded to f32 as the
 * kernel does. ggml's quantize_row_q8_1_ref rounds half away from zero instead; see the kernel header.
 */
export function quantizeActQ8(x: Float32Array, nTokens: number, cols: number): Int8Activations {
  checkShape('quantizeActQ8', x, nTokens, cols);
  const blocks = x.length / 32;
  const xd = new Float32Array(blocks);
  const codes = new Int32Array(x.length);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[32 * b + i]!));
    const d = f(amax / 127);
    const id = d > 0 ? f(1 / d) : 0;
    xd[b] = d;
    for (let i = 0; i < 32; i++) codes[32 * b + i] = Math.max(-128, Math.min(127, roundHalfEven(f(x[32 * b + i]! * id))));
  }
  return pack(codes, xd);
}

/** base^e for base ≥ 0 with base^0 = 1 and 0^e = 0 (e > 0), rounded to f32, as the kernel's pow_or_one. */
function powOrOne(base: number, e: number): number {
  if (e === 0) return 1;
  return base > 0 ? f(Math.pow(base, e)) : 0;
}

/**
 * CrossQuant (methods.md §3.2) as quantize_act_crossquant: q_tj = clamp(round(x_tj·127 / (t_t^α·c_j^(1−α))), ±127)
 * with t_t = max_j |x_tj| and c = colMax (static, calibrated). xd = t_t^α/127 for every block of token t, so the
 * result feeds the int8 matmuls once the weights carry c^(1−α) on their input columns ({@link foldColumnScale}).
 */
export function crossQuant(x: Float32Array, nTokens: number, cols: number, colMax: Float32Array, alpha: number): Int8Activations {
  checkShape('crossQuant', x, nTokens, cols);
  if (colMax.length !== cols) throw new RangeError(`crossQuant: colMax has ${colMax.length} entries, cols is ${cols}`);
  const a = f(alpha);
  const colScale = Float32Array.from(colMax, (c) => powOrOne(c, f(1 - a)));
  const xd = new Float32Array(x.length / 32);
  const codes = new Int32Array(x.length);
  for (let t = 0; t < nTokens; t++) {
    let rowMax = 0;
    for (let j = 0; j < cols; j++) rowMax = Math.max(rowMax, Math.abs(x[t * cols + j]!));
    const rowScale = powOrOne(rowMax, a);
    const r = rowScale > 0 ? f(127 / rowScale) : 0;
    xd.fill(f(rowScale / 127), (t * cols) / 32, ((t + 1) * cols) / 32);
    for (let j = 0; j < cols; j++) {
      const inv = colScale[j]! > 0 ? f(r / colScale[j]!) : 0;
      codes[t * cols + j] = Math.max(-127, Math.min(127, roundHalfEven(f(x[t * cols + j]! * inv))));
    }
  }
  return pack(codes, xd);
}

/** W·diag(c^(1−α)): the column factor CrossQuant moves out of the activations and into the weights' input columns. */
export function foldColumnScale(w: Float32Array, rows: number, cols: number, colMax: Float32Array, alpha: number): Float32Array {
  if (w.length !== rows * cols || colMax.length !== cols) throw new RangeError('foldColumnScale: shape mismatch');
  const a = f(alpha);
  const out = new Float32Array(w.length);
  for (let j = 0; j < cols; j++) {
    const s = powOrOne(colMax[j]!, f(1 - a));
    for (let r = 0; r < rows; r++) out[r * cols + j] = w[r * cols + j]! * s;
  }
  return out;
}

/** Code i (0..31) of block b. */
export function codeAt(act: Int8Activations, b: number, i: number): number {
  return (act.xq[8 * b + (i >> 2)]! << (24 - 8 * (i & 3))) >> 24;
}

/** xd·q per element: what the int8 matmuls effectively multiply the weights with. */
export function dequantizeAct(act: Int8Activations): Float32Array {
  const out = new Float32Array(act.xd.length * 32);
  for (let b = 0; b < act.xd.length; b++) for (let i = 0; i < 32; i++) out[32 * b + i] = act.xd[b]! * codeAt(act, b, i);
  return out;
}

/**
 * The "quantization kernel" of CrossQuant (methods.md §3.1): how many elements are nonzero, and how many of those
 * quantize to code 0. The proportion zeroed/nonzero is the paper's kernel proportion (over nonzero elements, since
 * an exact 0 is not a quantization loss).
 */
export function quantizationKernel(x: Float32Array, act: Int8Activations): { nonzero: number; zeroed: number } {
  let nonzero = 0;
  let zeroed = 0;
  for (let e = 0; e < x.length; e++) {
    if (x[e] === 0) continue;
    nonzero++;
    if (codeAt(act, e >> 5, e & 31) === 0) zeroed++;
  }
  return { nonzero, zeroed };
}

/** Signed dot product of four packed int8 lanes (WGSL dot4I8Packed). */
export function dot4I8(a: number, b: number): number {
  let sum = 0;
  for (let k = 0; k < 4; k++) sum += ((a << (24 - 8 * k)) >> 24) * ((b << (24 - 8 * k)) >> 24);
  return sum;
}

const f16At = (pairs: Uint32Array, i: number) => f16ToF32((pairs[i >> 1]! >>> (16 * (i & 1))) & 0xffff);

/** Contribution of weight unit `u` (32 elements) against activation block `xb`, per methods.md §8.3. */
type UnitDot = (parts: Readonly<Record<string, Uint32Array>>, act: Int8Activations, u: number, xb: number) => number;

const UNIT_DOT: Record<Dp4aWeightType, UnitDot> = {
  Q8_0: ({ qs, d }, act, u, xb) => {
    let sum = 0;
    for (let w = 0; w < 8; w++) sum += dot4I8(qs![8 * u + w]!, act.xq[8 * xb + w]!);
    return f16At(d!, u) * act.xd[xb]! * sum;
  },
  Q4_0: ({ qs, d }, act, u, xb) => {
    let sum = 0;
    for (let w = 0; w < 4; w++) {
      const word = qs![4 * u + w]!;
      sum += dot4I8(word & 0x0f0f0f0f, act.xq[8 * xb + w]!) + dot4I8((word >>> 4) & 0x0f0f0f0f, act.xq[8 * xb + 4 + w]!);
    }
    return f16At(d!, u) * (act.xd[xb]! * sum - 8 * act.xs[xb]!);
  },
  Q4_K: ({ qs, scales, dm }, act, u, xb) => {
    const [s, sb] = [u >> 3, u & 7];
    const byte = (i: number) => (scales![3 * s + (i >> 2)]! >>> (8 * (i & 3))) & 0xff;
    const sc = sb < 4 ? byte(sb) & 63 : (byte(sb + 4) & 15) | ((byte(sb - 4) >> 6) << 4);
    const m = sb < 4 ? byte(sb + 4) & 63 : (byte(sb + 4) >> 4) | ((byte(sb) >> 6) << 4);
    const base = 32 * s + 8 * (sb >> 1);
    let sum = 0;
    for (let w = 0; w < 8; w++) sum += dot4I8((qs![base + w]! >>> (4 * (sb & 1))) & 0x0f0f0f0f, act.xq[8 * xb + w]!);
    return f16At(dm!, 2 * s) * sc * act.xd[xb]! * sum - f16At(dm!, 2 * s + 1) * m * act.xs[xb]!;
  },
};

/**
 * y[t] = W·x[t] as matmul_dp4a_*: W [rows, cols] in its repacked parts (formats' `repack`), x as int8 blocks.
 * Integer sums are exact; the per-unit formulas and the row sum are in double, the result rounded to f32.
 */
export function matmulDp4a(
  type: Dp4aWeightType, parts: Readonly<Record<string, Uint32Array>>, act: Int8Activations, rows: number, cols: number, nTokens: number,
): Float32Array {
  if (cols % (type === 'Q4_K' ? 256 : 32) !== 0) throw new RangeError(`matmulDp4a ${type}: cols ${cols} is not a whole number of blocks`);
  if (act.xd.length !== (nTokens * cols) / 32) throw new RangeError(`matmulDp4a: activations hold ${act.xd.length} blocks, need ${(nTokens * cols) / 32}`);
  const units = cols / 32;
  const unitDot = UNIT_DOT[type];
  const y = new Float32Array(nTokens * rows);
  for (let t = 0; t < nTokens; t++) {
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let u = 0; u < units; u++) sum += unitDot(parts, act, r * units + u, t * units + u);
      y[t * rows + r] = sum;
    }
  }
  return y;
}
