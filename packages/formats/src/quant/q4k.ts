// Q4_K: 256-element super-blocks of 8 sub-blocks × 32, y = d·sc·q − dmin·m with 6-bit sub-scales and mins.
// Layout (ggml-common.h block_q4_K, 144 bytes): d:f16 @0, dmin:f16 @2, scales[12] @4, qs[128] @16. Chunk c of
// 64 elements uses qs[32c…32c+31]: low nibbles are sub-block 2c, high nibbles sub-block 2c+1.
// The quantizer is llama.cpp's `quantize_row_q4_K_ref` (what llama-quantize writes without an imatrix), including
// `make_qkx2_quants`, with every float operation rounded to f32 as C evaluates it (no FMA contraction).
import { f32ToF16 } from '../f16.ts';
import { f, nearestInt, readF16 } from './common.ts';

const QK_K = 256;
const BLOCK_BYTES = 144;

/** `get_scale_min_k4`: 6-bit scale and min of sub-block j from the 12 packed bytes starting at `o`. */
export function scaleMinK4(j: number, bytes: Uint8Array, o: number): [sc: number, m: number] {
  if (j < 4) return [bytes[o + j]! & 63, bytes[o + j + 4]! & 63];
  return [
    (bytes[o + j + 4]! & 0xf) | ((bytes[o + j - 4]! >> 6) << 4),
    (bytes[o + j + 4]! >> 4) | ((bytes[o + j]! >> 6) << 4),
  ];
}

/**
 * `dequantize_row_q4_K`: d1 = d·sc and m1 = dmin·m, then y = d1·q − m1. The products are exact in f32 (11-bit
 * significand × 6-bit scale × 4-bit code), so only the subtraction rounds, and an FMA-contracted build agrees.
 */
export function dequantizeQ4_K(bytes: Uint8Array, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const o = b * BLOCK_BYTES;
    const d = readF16(bytes, o);
    const dmin = readF16(bytes, o + 2);
    for (let c = 0; c < 4; c++) {
      const [sc1, m1] = scaleMinK4(2 * c, bytes, o + 4);
      const [sc2, m2] = scaleMinK4(2 * c + 1, bytes, o + 4);
      const d1 = f(d * sc1), min1 = f(dmin * m1);
      const d2 = f(d * sc2), min2 = f(dmin * m2);
      const base = b * QK_K + 64 * c;
      for (let l = 0; l < 32; l++) {
        const q = bytes[o + 16 + 32 * c + l]!;
        out[base + l] = f(f(d1 * (q & 0xf)) - min1);
        out[base + 32 + l] = f(f(d2 * (q >> 4)) - min2);
      }
    }
  }
}

/**
 * `make_qkx2_quants`: fits x ≈ scale·L + min (L ∈ 0…nmax, min ≤ 0) minimising Σ w·(scale·L + min − x)². Starts
 * from the min–max grid, then tries nstep+1 inverse scales (nmax + rmin + rdelta·is)/(max − min), each followed
 * by the weighted least-squares (scale, min) for its codes, keeping the lowest error. Writes the codes to `L`.
 * Returns the scale and the_min = −min (≥ 0).
 */
function makeQkx2Quants(
  nmax: number, x: Float32Array, weights: Float32Array, L: Uint8Array,
  rmin: number, rdelta: number, nstep: number,
): { scale: number; theMin: number } {
  const n = x.length;
  const Laux = new Uint8Array(n);
  let min = x[0]!;
  let max = x[0]!;
  let sumW = weights[0]!;
  let sumX = f(sumW * x[0]!);
  for (let i = 1; i < n; i++) {
    if (x[i]! < min) min = x[i]!;
    if (x[i]! > max) max = x[i]!;
    sumW = f(sumW + weights[i]!);
    sumX = f(sumX + f(weights[i]! * x[i]!));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0);
    return { scale: 0, theMin: -min };
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    L[i] = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[i]! - min)))));
    const diff = f(f(f(scale * L[i]!) + min) - x[i]!);
    bestError = f(bestError + f(weights[i]! * f(diff * diff)));
  }
  for (let is = 0; is <= nstep; is++) {
    // `min` is the best fit so far, so later candidates start from it (not from the data minimum).
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[i]! - min)))));
      Laux[i] = l;
      const wl = f(weights[i]! * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * x[i]!));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = f(f(f(thisScale * Laux[i]!) + thisMin) - x[i]!);
        curError = f(curError + f(weights[i]! * f(diff * diff)));
      }
      if (curError < bestError) {
        L.set(Laux);
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return { scale, theMin: -min };
}

/** `quantize_row_q4_K_ref` for `blocks` super-blocks of `x`, written to `out` (144 bytes each). */
export function quantizeQ4_K(x: Float32Array, blocks: number, out: Uint8Array): void {
  const L = new Uint8Array(QK_K);
  const weights = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  const rdelta = f(0.1);
  for (let b = 0; b < blocks; b++) {
    const xb = x.subarray(b * QK_K, (b + 1) * QK_K);
    const o = b * BLOCK_BYTES;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      const xs = xb.subarray(32 * j, 32 * j + 32);
      // Importance weights: RMS of the sub-block plus |x|, so large elements are fitted more closely.
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(xs[l]! * xs[l]!));
      const avX = f(Math.sqrt(f(sumX2 / 32)));
      for (let l = 0; l < 32; l++) weights[l] = avX + Math.abs(xs[l]!);
      const fit = makeQkx2Quants(15, xs, weights, L.subarray(32 * j, 32 * j + 32), -1, rdelta, 20);
      scales[j] = fit.scale;
      mins[j] = fit.theMin;
      if (scales[j]! > maxScale) maxScale = scales[j]!;
      if (mins[j]! > maxMin) maxMin = mins[j]!;
    }

    const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
    const sb = o + 4;
    for (let j = 0; j < 8; j++) {
      // `uint8_t ls = nearest_int(…)` keeps the low 8 bits before the clamp to 63.
      const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)) & 0xff);
      const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)) & 0xff);
      if (j < 4) {
        out[sb + j] = ls;
        out[sb + j + 4] = lm;
      } else {
        out[sb + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        out[sb + j - 4] = out[sb + j - 4]! | ((ls >> 4) << 6);
        out[sb + j] = out[sb + j]! | ((lm >> 4) << 6);
      }
    }
    const dBits = f32ToF16(f(maxScale / 63));
    const dminBits = f32ToF16(f(maxMin / 63));
    out[o] = dBits & 0xff; out[o + 1] = dBits >> 8;
    out[o + 2] = dminBits & 0xff; out[o + 3] = dminBits >> 8;

    // Re-quantize with the scales as stored (6-bit sub-scales times the f16 d/dmin read back from the block).
    const d = readF16(out, o);
    const dmin = readF16(out, o + 2);
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(j, out, sb);
      const dj = f(d * sc);
      if (!dj) continue; // the codes from make_qkx2_quants stay, as in C
      const dm = f(dmin * m);
      for (let ii = 0; ii < 32; ii++) {
        L[32 * j + ii] = Math.max(0, Math.min(15, nearestInt(f(f(xb[32 * j + ii]! + dm) / dj))));
      }
    }
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) out[o + 16 + 32 * c + l] = L[64 * c + l]! | (L[64 * c + l + 32]! << 4);
    }
  }
}
