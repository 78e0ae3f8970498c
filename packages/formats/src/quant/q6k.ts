// Q6_K: 256-element super-blocks of 16 sub-blocks × 16, y = d·scales[s]·(q − 32) with signed 8-bit sub-scales.
// Layout (ggml-common.h block_q6_K, 210 bytes): ql[128] @0 (low 4 bits), qh[64] @128 (high 2 bits),
// scales:i8[16] @192, d:f16 @208 (d is last). Element e of a super-block: h = e/128, r = e%128, quarter = r/32,
// l = r%32; low4 = ql[64h + l + 32·(quarter odd)] >> 4·(quarter ≥ 2), high2 = qh[32h + l] >> 2·quarter,
// sub-scale index 8h + r/16.
// The quantizer is llama.cpp's `quantize_row_q6_K_ref` with `make_qx_quants(rmse_type 1)`, every float operation
// rounded to f32 as C evaluates it.
import { f32ToF16 } from '../f16.ts';
import { f, nearestInt, readF16 } from './common.ts';

const QK_K = 256;
const BLOCK_BYTES = 210;
/** ggml's GROUP_MAX_EPS (1e-15f): below this largest magnitude a group counts as all zeros. */
const GROUP_MAX_EPS = f(1e-15);

/**
 * `dequantize_row_q6_K`: y = (d·sc)·q. Both products are exact in f32 (an 11-bit f16 significand times |sc| ≤ 128
 * times |q| ≤ 32 has at most 23 significant bits), so the result is the same in any evaluation order.
 */
export function dequantizeQ6_K(bytes: Uint8Array, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const o = b * BLOCK_BYTES;
    const d = readF16(bytes, o + 208);
    for (let h = 0; h < 2; h++) {
      const ql = o + 64 * h;
      const qh = o + 128 + 32 * h;
      const sc = o + 192 + 8 * h;
      const base = b * QK_K + 128 * h;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const hi = bytes[qh + l]!;
        const q1 = ((bytes[ql + l]! & 0xf) | ((hi & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32]! & 0xf) | (((hi >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l]! >> 4) | (((hi >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32]! >> 4) | (((hi >> 6) & 3) << 4)) - 32;
        const s = (k: number) => (bytes[sc + is + k]! << 24) >> 24;
        out[base + l] = f(f(d * s(0)) * q1);
        out[base + l + 32] = f(f(d * s(2)) * q2);
        out[base + l + 64] = f(f(d * s(4)) * q3);
        out[base + l + 96] = f(f(d * s(6)) * q4);
      }
    }
  }
}

/**
 * `make_qx_quants` with rmse_type 1 (weights x², no quant weights): symmetric codes L ∈ 0…2·nmax−1 (value
 * L − nmax) for x ≈ scale·(L − nmax). Starts at iscale = −nmax/max (max = signed largest-magnitude value), keeps
 * the least-squares scale for those codes, then tries iscale = −(nmax + 0.1·is)/max for is = −9…9 and keeps the
 * codes maximising (Σw·x·l)²/Σw·l², i.e. minimising the weighted error. Writes the codes to `L`, returns the scale.
 */
function makeQxQuants(nmax: number, x: Float32Array, L: Uint8Array): number {
  const n = x.length;
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[i]!);
    if (ax > amax) { amax = ax; max = x[i]!; }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0);
    return 0;
  }
  const code = (iscale: number, v: number) => Math.max(-nmax, Math.min(nmax - 1, nearestInt(f(iscale * v))));
  const sums = (iscale: number): [sumlx: number, suml2: number] => {
    let sumlx = 0, suml2 = 0;
    for (let i = 0; i < n; i++) {
      const l = code(iscale, x[i]!);
      const w = f(x[i]! * x[i]!);
      sumlx = f(sumlx + f(f(w * x[i]!) * l));
      suml2 = f(suml2 + f(f(w * l) * l));
    }
    return [sumlx, suml2];
  };
  const setCodes = (iscale: number) => {
    for (let i = 0; i < n; i++) L[i] = nmax + code(iscale, x[i]!);
  };
  let iscale = f(-nmax / max);
  setCodes(iscale);
  let [sumlx, suml2] = sums(iscale);
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  const tenth = f(0.1);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(tenth * is)) / max);
    [sumlx, suml2] = sums(iscale);
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      setCodes(iscale);
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

/** `quantize_row_q6_K_ref` for `blocks` super-blocks of `x`, written to `out` (210 bytes each). */
export function quantizeQ6_K(x: Float32Array, blocks: number, out: Uint8Array): void {
  const L = new Uint8Array(QK_K);
  const scales = new Float32Array(16);
  for (let b = 0; b < blocks; b++) {
    const xb = x.subarray(b * QK_K, (b + 1) * QK_K);
    const o = b * BLOCK_BYTES;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      scales[ib] = makeQxQuants(32, xb.subarray(16 * ib, 16 * ib + 16), L.subarray(16 * ib, 16 * ib + 16));
      if (Math.abs(scales[ib]!) > maxAbsScale) {
        maxAbsScale = Math.abs(scales[ib]!);
        maxScale = scales[ib]!;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      out.fill(0, o, o + BLOCK_BYTES);
      continue;
    }
    const iscale = f(-128 / maxScale);
    const dBits = f32ToF16(f(1 / iscale));
    out[o + 208] = dBits & 0xff;
    out[o + 209] = dBits >> 8;
    for (let ib = 0; ib < 16; ib++) out[o + 192 + ib] = Math.min(127, nearestInt(f(iscale * scales[ib]!))) & 0xff;

    // Re-quantize against the stored scales (f16 d times the int8 sub-scale).
    const d = readF16(out, o + 208);
    for (let j = 0; j < 16; j++) {
      const dj = f(d * ((out[o + 192 + j]! << 24) >> 24));
      if (!dj) continue; // the make_qx_quants codes stay, as in C
      for (let ii = 0; ii < 16; ii++) {
        L[16 * j + ii] = Math.max(-32, Math.min(31, nearestInt(f(xb[16 * j + ii]! / dj)))) + 32;
      }
    }
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const at = (k: number) => L[128 * h + l + 32 * k]!;
        out[o + 64 * h + l] = (at(0) & 0xf) | ((at(2) & 0xf) << 4);
        out[o + 64 * h + l + 32] = (at(1) & 0xf) | ((at(3) & 0xf) << 4);
        out[o + 128 + 32 * h + l] = (at(0) >> 4) | ((at(1) >> 4) << 2) | ((at(2) >> 4) << 4) | ((at(3) >> 4) << 6);
      }
    }
  }
}
