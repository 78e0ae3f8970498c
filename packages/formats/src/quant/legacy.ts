// The 32-element block types Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1: dequantizers and llama.cpp's reference
// quantizers (`dequantize_row_*` / `quantize_row_*_ref` in ggml-quants.c), in ggml's f32 arithmetic.
// Layouts (ggml-common.h): Q8_0 d:f16 qs:i8[32]; Q4_0 d qs[16]; Q4_1 d m qs[16]; Q5_0 d qh:u32 qs[16];
// Q5_1 d m qh qs[16]. 4/5-bit nibbles: low nibble of qs[j] is element j, high nibble is element j+16;
// bit j of qh is bit 4 of element j.
import { f32ToF16 } from '../f16.ts';
import { f, readF16, readU32, roundHalfAway, toInt8 } from './common.ts';

/** Block size shared by every type in this file. */
const QK = 32;

/** y = q·d: an 8-bit integer times an f16 (11 significant bits) is exact in f32; `f` just states the type. */
export function dequantizeQ8_0(bytes: Uint8Array, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const o = b * 34;
    const d = readF16(bytes, o);
    for (let j = 0; j < QK; j++) out[b * QK + j] = f(((bytes[o + 2 + j]! << 24) >> 24) * d);
  }
}

/** y = (q − 8)·d for 4-bit codes q (exact products, as for Q8_0). */
export function dequantizeQ4_0(bytes: Uint8Array, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const o = b * 18;
    const d = readF16(bytes, o);
    for (let j = 0; j < QK / 2; j++) {
      const q = bytes[o + 2 + j]!;
      out[b * QK + j] = f(((q & 0xf) - 8) * d);
      out[b * QK + j + 16] = f(((q >> 4) - 8) * d);
    }
  }
}

/** y = q·d + m, two f32 roundings (q·d is exact, so an FMA-contracted build gives the same bits). */
export function dequantizeQ4_1(bytes: Uint8Array, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const o = b * 20;
    const d = readF16(bytes, o);
    const m = readF16(bytes, o + 2);
    for (let j = 0; j < QK / 2; j++) {
      const q = bytes[o + 4 + j]!;
      out[b * QK + j] = f(f((q & 0xf) * d) + m);
      out[b * QK + j + 16] = f(f((q >> 4) * d) + m);
    }
  }
}

/** Codes j and j+16 (0…31, before the −16 bias) of a Q5 block: `qs` nibbles plus bit 4 taken from `qh`. */
function q5Codes(bytes: Uint8Array, qsOffset: number, qh: number, j: number): [number, number] {
  const q = bytes[qsOffset + j]!;
  return [(q & 0xf) | (((qh >>> j) << 4) & 0x10), (q >> 4) | ((qh >>> (j + 12)) & 0x10)];
}

/** y = (q − 16)·d for 5-bit codes q (exact products). */
export function dequantizeQ5_0(bytes: Uint8Array, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const o = b * 22;
    const d = readF16(bytes, o);
    const qh = readU32(bytes, o + 2);
    for (let j = 0; j < QK / 2; j++) {
      const [x0, x1] = q5Codes(bytes, o + 6, qh, j);
      out[b * QK + j] = f((x0 - 16) * d);
      out[b * QK + j + 16] = f((x1 - 16) * d);
    }
  }
}

/** y = q·d + m for 5-bit codes q, two f32 roundings as for Q4_1. */
export function dequantizeQ5_1(bytes: Uint8Array, blocks: number, out: Float32Array): void {
  for (let b = 0; b < blocks; b++) {
    const o = b * 24;
    const d = readF16(bytes, o);
    const m = readF16(bytes, o + 2);
    const qh = readU32(bytes, o + 4);
    for (let j = 0; j < QK / 2; j++) {
      const [x0, x1] = q5Codes(bytes, o + 8, qh, j);
      out[b * QK + j] = f(f(x0 * d) + m);
      out[b * QK + j + 16] = f(f(x1 * d) + m);
    }
  }
}

function writeF16(out: Uint8Array, o: number, value: number): void {
  const h = f32ToF16(value);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
}

function writeU32(out: Uint8Array, o: number, value: number): void {
  for (let k = 0; k < 4; k++) out[o + k] = (value >>> (8 * k)) & 0xff;
}

/** The value of largest magnitude keeping its sign (first one wins ties, as `amax < fabsf(v)` does). */
function signedMax(x: Float32Array, start: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < QK; j++) {
    const v = x[start + j]!;
    if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
  }
  return max;
}

function minMax(x: Float32Array, start: number): [number, number] {
  let min = 3.4028234663852886e38;
  let max = -3.4028234663852886e38;
  for (let j = 0; j < QK; j++) {
    const v = x[start + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** `quantize_row_q8_0_ref`: d = amax/127, q = roundf(x·(1/d)) (half away from zero). */
export function quantizeQ8_0(x: Float32Array, blocks: number, out: Uint8Array): void {
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[b * QK + j]!));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    writeF16(out, b * 34, d);
    for (let j = 0; j < QK; j++) out[b * 34 + 2 + j] = roundHalfAway(f(x[b * QK + j]! * id)) & 0xff;
  }
}

/**
 * `quantize_row_q4_0_ref`: d = max/−8 with max the signed largest-magnitude value (so d may be negative and that
 * value maps exactly to code 0); q = min(15, trunc(x/d + 8.5)).
 */
export function quantizeQ4_0(x: Float32Array, blocks: number, out: Uint8Array): void {
  for (let b = 0; b < blocks; b++) {
    const d = f(signedMax(x, b * QK) / -8);
    const id = d ? f(1 / d) : 0;
    writeF16(out, b * 18, d);
    for (let j = 0; j < QK / 2; j++) {
      const q0 = Math.min(15, toInt8(f(f(x[b * QK + j]! * id) + 8.5)));
      const q1 = Math.min(15, toInt8(f(f(x[b * QK + j + 16]! * id) + 8.5)));
      out[b * 18 + 2 + j] = (q0 & 0xff) | ((q1 & 0xff) << 4);
    }
  }
}

/** `quantize_row_q4_1_ref`: d = (max − min)/15, m = min, q = min(15, trunc((x − min)/d + 0.5)). */
export function quantizeQ4_1(x: Float32Array, blocks: number, out: Uint8Array): void {
  for (let b = 0; b < blocks; b++) {
    const [min, max] = minMax(x, b * QK);
    const d = f(f(max - min) / 15);
    const id = d ? f(1 / d) : 0;
    writeF16(out, b * 20, d);
    writeF16(out, b * 20 + 2, min);
    for (let j = 0; j < QK / 2; j++) {
      const q0 = Math.min(15, toInt8(f(f(f(x[b * QK + j]! - min) * id) + 0.5)));
      const q1 = Math.min(15, toInt8(f(f(f(x[b * QK + j + 16]! - min) * id) + 0.5)));
      out[b * 20 + 4 + j] = (q0 & 0xff) | ((q1 & 0xff) << 4);
    }
  }
}

/** Packs 32 five-bit codes into `qh` (bit j = bit 4 of code j) and 16 `qs` bytes at `qsOffset`. */
function packQ5(codes: readonly number[], out: Uint8Array, qhOffset: number, qsOffset: number): void {
  let qh = 0;
  for (let j = 0; j < QK / 2; j++) {
    const x0 = codes[j]!;
    const x1 = codes[j + 16]!;
    out[qsOffset + j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
    qh |= ((x0 & 0x10) >> 4) << j;
    qh |= ((x1 & 0x10) >> 4) << (j + 16);
  }
  writeU32(out, qhOffset, qh >>> 0);
}

/** `quantize_row_q5_0_ref`: as Q4_0 with 5 bits: d = max/−16, q = min(31, trunc(x/d + 16.5)). */
export function quantizeQ5_0(x: Float32Array, blocks: number, out: Uint8Array): void {
  for (let b = 0; b < blocks; b++) {
    const d = f(signedMax(x, b * QK) / -16);
    const id = d ? f(1 / d) : 0;
    writeF16(out, b * 22, d);
    const codes = Array.from({ length: QK }, (_, j) => Math.min(31, toInt8(f(f(x[b * QK + j]! * id) + 16.5))) & 0xff);
    packQ5(codes, out, b * 22 + 2, b * 22 + 6);
  }
}

/** `quantize_row_q5_1_ref`: d = (max − min)/31, m = min, q = trunc((x − min)/d + 0.5) (no clamp, as in C). */
export function quantizeQ5_1(x: Float32Array, blocks: number, out: Uint8Array): void {
  for (let b = 0; b < blocks; b++) {
    const [min, max] = minMax(x, b * QK);
    const d = f(f(max - min) / 31);
    const id = d ? f(1 / d) : 0;
    writeF16(out, b * 24, d);
    writeF16(out, b * 24 + 2, min);
    const codes = Array.from({ length: QK }, (_, j) => Math.trunc(f(f(f(x[b * QK + j]! - min) * id) + 0.5)) & 0xff);
    packQ5(codes, out, b * 24 + 4, b * 24 + 8);
  }
}
