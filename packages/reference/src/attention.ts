// CPU twins of the KV-cache storage types (kv_write_f32 / kv_write_f16 / kv_write_int8) and of attention over each
// of them. The GPU attention kernels read back exactly the values these functions store, so "attention with KV type
// T" is the double-precision reference `attention` (ops.ts) applied to what the cache holds: the only difference
// between the types is the rounding on write, which these twins reproduce step by step in f32.
import { f16ToF32, f32ToF16 } from '@qgpu/formats';
import { roundHalfEven } from './int8.ts';
import { attention } from './ops.ts';

/** How the KV cache stores keys and values (shaders/lib/attention/kv_*.wgsl). */
export type KvCacheType = 'f32' | 'f16' | 'int8';

/** An int8 KV block store: codes [rows, nKvHeads·headDim], one f32 scale per (row, KV head). */
export interface KvInt8 {
  readonly codes: Int8Array;
  readonly scales: Float32Array;
}

const f = Math.fround;

/**
 * kv_write_int8: per (row, KV head) block of headDim values, d = max|x| / 127 and q = round_half_even(x · (1/d)),
 * each step rounded to f32 as the kernel computes it; an all-zero block gets d = 0 and codes 0.
 */
export function quantizeKvInt8(x: Float32Array, rows: number, nKvHeads: number, headDim: number): KvInt8 {
  if (x.length !== rows * nKvHeads * headDim) throw new RangeError(`quantizeKvInt8: expected ${rows * nKvHeads * headDim} values, got ${x.length}`);
  const codes = new Int8Array(x.length);
  const scales = new Float32Array(rows * nKvHeads);
  for (let b = 0; b < rows * nKvHeads; b++) {
    let amax = 0;
    for (let i = 0; i < headDim; i++) amax = Math.max(amax, Math.abs(x[b * headDim + i]!));
    const d = f(amax / 127);
    const id = d > 0 ? f(1 / d) : 0;
    scales[b] = d;
    for (let i = 0; i < headDim; i++) codes[b * headDim + i] = Math.max(-127, Math.min(127, roundHalfEven(f(x[b * headDim + i]! * id))));
  }
  return { codes, scales };
}

/** What the attention kernels read from an int8 cache: f32(q) · d, one f32 product per element. */
export function dequantizeKvInt8(kv: KvInt8, headDim: number): Float32Array {
  return Float32Array.from(kv.codes, (q, e) => f(q * kv.scales[Math.floor(e / headDim)]!));
}

/** The values a cache of `type` returns for keys or values `x` ([rows, nKvHeads·headDim]) after kv_write. */
export function kvCacheValues(type: KvCacheType, x: Float32Array, rows: number, nKvHeads: number, headDim: number): Float32Array {
  switch (type) {
    case 'f32': return x;
    case 'f16': return Float32Array.from(x, (v) => f16ToF32(f32ToF16(v)));
    case 'int8': return dequantizeKvInt8(quantizeKvInt8(x, rows, nKvHeads, headDim), headDim);
  }
}

/**
 * Causal GQA attention (see `attention`) whose keys and values went through a KV cache of `type`. `k` and `v` are
 * the f32 keys and values as computed, [rows ≥ startPos + nTokens, nKvHeads·headDim].
 */
export function attentionKv(
  type: KvCacheType, q: Float32Array, k: Float32Array, v: Float32Array,
  nTokens: number, startPos: number, nHeads: number, nKvHeads: number, headDim: number,
): Float32Array {
  const rows = k.length / (nKvHeads * headDim);
  const kc = kvCacheValues(type, k, rows, nKvHeads, headDim);
  const vc = kvCacheValues(type, v, rows, nKvHeads, headDim);
  return attention(q, kc, vc, nTokens, startPos, nHeads, nKvHeads, headDim);
}
