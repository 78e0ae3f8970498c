// The position-encoding ops: record the rope kernels (one per pair style, any table of llama/rope.ts) and the released
// 3D-RPE code's attention. Re-exported by ops.ts, where every other op lives.
import { type GpuTensor, type PlanBuilder } from '@qgpu/gpu';
import * as kernels from '@qgpu/shaders';
import type { RopeStyle } from './rope.ts';

/**
 * Rotates each head of x in place by its row of `table` ([max_pos, rope_dim/2] cos/sin, llama/rope.ts) at the token's
 * position with the rope kernel: 'norm' pairs (x[2i], x[2i+1]) (NEOX = 0), 'neox' pairs (x[i], x[i + rope_dim/2]) (NEOX = 1).
 */
export function rope(
  p: PlanBuilder, style: RopeStyle, x: GpuTensor, table: GpuTensor, nHeads: number, headDim: number, ropeDim: number, nTokens: number,
): void {
  if (ropeDim % 2 !== 0 || ropeDim > headDim || table.shape[1] !== ropeDim / 2) {
    throw new Error(`rope: rope_dim ${ropeDim} must be even, ≤ head_dim ${headDim} and match the table's ${table.shape[1]} pairs`);
  }
  const kernel = kernels.rope;
  p.dispatch(kernel, {
    overrides: { NEOX: style === 'neox' ? 1 : 0 },
    params: { n_heads: nHeads, head_dim: headDim, rope_dim: ropeDim, max_pos: table.shape[0]! },
    bindings: { cos_sin: table, x },
    workgroups: [Math.ceil((nHeads * (ropeDim / 2)) / kernel.overrides.WG_SIZE), nTokens],
  });
}

/**
 * The released 3D-RPE code's attention (attention_3drpe_chunked): `q` unrotated, `queryTables` [3, seq_len, pairs]
 * (intra / successive / inter, llama/rope.ts chunkedQueryTables), keys in an f32 cache rotated at p mod chunk_len,
 * `scores` scratch [chunk, n_heads, seq_len]. One workgroup per (head, token).
 */
export function attention3dRpeChunked(p: PlanBuilder, a: {
  q: GpuTensor; cache: { readonly type: string; readonly k: GpuTensor; readonly v: GpuTensor }; out: GpuTensor; scores: GpuTensor; queryTables: GpuTensor;
  dims: { readonly nHeads: number; readonly nKvHeads: number; readonly headDim: number }; style: RopeStyle; ropeDim: number; chunkLen: number; nTokens: number;
}): void {
  const { q, cache, out, scores, queryTables, dims, nTokens } = a;
  if (cache.type !== 'f32') throw new Error(`3D-RPE chunked attention reads an f32 KV cache only (this one is ${cache.type})`);
  const kernel = kernels.attention_3drpe_chunked;
  if (dims.headDim > kernel.overrides.MAX_HEAD_DIM) throw new Error(`3D-RPE chunked attention: head_dim ${dims.headDim} exceeds ${kernel.overrides.MAX_HEAD_DIM}`);
  const seqLen = cache.k.shape[0]!;
  p.dispatch(kernel, {
    params: {
      n_heads: dims.nHeads, n_kv_heads: dims.nKvHeads, head_dim: dims.headDim, rope_dim: a.ropeDim, seq_len: seqLen,
      chunk_len: a.chunkLen, neox: a.style === 'neox' ? 1 : 0, scale: 1 / Math.sqrt(dims.headDim),
    },
    bindings: { q, q_tables: queryTables, k_cache: cache.k, v_cache: cache.v, scores, out },
    workgroups: [dims.nHeads, nTokens],
  });
}
