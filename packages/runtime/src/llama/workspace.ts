// Every activation buffer and the KV cache, allocated once at load (llama2.c's RunState). Buffers are sized for the
// prefill chunk; the decode plan binds the same buffers and uses their first row.
import { createTensor, type DType, type GpuTensor } from '@qgpu/gpu';
import { decodeSplitsFor, rowsOf, type DecodeSplits, type Int8Activations, type KernelPath, type KvCacheLayer, type KvCacheType, type LutActivations } from '../ops.ts';
import type { LlamaConfig } from './config.ts';
import { positionTables, type PositionTables } from './rope.ts';

export interface Workspace {
  readonly chunkTokens: number;
  readonly seqLen: number;
  readonly tokens: GpuTensor;   // [chunk] u32 — input ids; argmax writes the next greedy id into element 0
  readonly pieceIds: GpuTensor; // [chunk] u32 — ids relative to one piece of a split embedding table (row-split.ts)
  readonly x: GpuTensor;        // [chunk, dim] residual stream
  readonly xb: GpuTensor;       // [chunk, dim] normed input of attention / FFN
  readonly qkv: QkvBuffers;     // q [chunk, q_dim], k, v [chunk, kv_dim]: see qkvOf
  readonly attOut: GpuTensor;   // [chunk, q_dim]
  readonly proj: GpuTensor;     // [chunk, dim] output of wo and of w_down, added to x
  readonly gate: GpuTensor;     // [chunk, hidden_dim] — also silu(gate)·up
  readonly up: GpuTensor | undefined; // [chunk, hidden_dim] — only when some layer keeps w_up apart (fuse.ts)
  readonly splits: DecodeSplits; // flash-decoding partials [n_heads, n_splits, 2 | head_dim] (ops.ts decodeSplitsFor)
  readonly logits: GpuTensor;   // [chunk, vocab]
  /** dp4a path only: the int8 form of whichever linear input is current, sized for the widest (dim, q_dim, hidden_dim). */
  readonly int8: Int8Activations | undefined;
  /** lut path only: the T-MAC tables of whichever linear input is current, sized for the widest input. */
  readonly lut: LutActivations | undefined;
  /** lut path only: a SINQ linear's scaled copy x ⊙ t of its input (ops.inputColumnScale), [chunk, widest input]. */
  readonly scaledInput: GpuTensor | undefined;
  readonly position: PositionBuffers; // the position encoding's cos/sin tables (llama/rope.ts)
  readonly kvCacheType: KvCacheType;
  readonly kvCache: readonly KvCacheLayer[]; // per layer, preallocated for seq_len positions (ops.ts KvCacheLayer)
  readonly stepBuffer: GPUBuffer; // uniform Step { pos, n_tokens }
  readonly byteSize: number;
  destroy(): void;
}

/**
 * q, k and v: three buffers, or one region [chunk, q_dim + 2·kv_dim] that a plan of n tokens views as
 * [n, q_dim] [n, kv_dim] [n, kv_dim] (the fused QKV linear's 'split' epilogue layout, fuse.ts), so the views depend
 * on the plan (qkvOf).
 */
export type QkvBuffers =
  | { readonly kind: 'separate'; readonly q: GpuTensor; readonly k: GpuTensor; readonly v: GpuTensor }
  | { readonly kind: 'region'; readonly region: GpuTensor; readonly qDim: number; readonly kvDim: number };

/** Which activation buffers the loaded weights need (fuse.ts): the q/k/v layout, and whether `up` exists. */
export interface WorkspaceLayout {
  readonly qkv: QkvBuffers['kind'];
  readonly up: boolean;
}

/**
 * q [n, q_dim], k and v [n, kv_dim] for a plan of n tokens: the first n rows of each buffer, or the three consecutive
 * blocks of the region (each view's byte offset is a multiple of the binding-offset alignment: fuse.ts
 * qkvRegionAligned decided the layout).
 */
export function qkvOf(ws: Pick<Workspace, 'qkv'>, n: number): { q: GpuTensor; k: GpuTensor; v: GpuTensor } {
  const b = ws.qkv;
  if (b.kind === 'separate') return { q: rowsOf(b.q, n), k: rowsOf(b.k, n), v: rowsOf(b.v, n) };
  const view = (firstElement: number, width: number): GpuTensor =>
    ({ ...b.region, byteOffset: b.region.byteOffset + firstElement * 4, byteLength: n * width * 4, shape: [n, width] });
  return { q: view(0, b.qDim), k: view(n * b.qDim, b.kvDim), v: view(n * (b.qDim + b.kvDim), b.kvDim) };
}

/**
 * The position encoding's tables on the GPU (llama/rope.ts, computed once in double on the CPU): one table for q and
 * k, or, for the released 3D-RPE code's chunked attention, a key table, the three query tables and a scores scratch.
 */
export type PositionBuffers =
  | { readonly kind: 'rotate'; readonly table: GpuTensor }                  // [seq_len, rope_dim/2, 2] (cos, sin)
  | {
    readonly kind: 'chunked';
    readonly keyTable: GpuTensor;     // [seq_len, rope_dim/2, 2] — keys at p mod chunk_len
    readonly queryTables: GpuTensor;  // [3, seq_len, rope_dim/2, 2] — intra / successive / inter
    readonly scores: GpuTensor;       // [chunk, n_heads, seq_len] attention scratch
    readonly chunkLen: number;
  };

export function createWorkspace(
  device: GPUDevice, config: LlamaConfig, seqLen: number, chunkTokens: number, kernelPath: KernelPath, kvCacheType: KvCacheType = 'f32',
  tables: PositionTables = positionTables(config.rope, { type: 'rope' }, seqLen, config.contextLength),
  layout: WorkspaceLayout = { qkv: 'separate', up: true },
): Workspace {
  const { dim, qDim, kvDim, hiddenDim, vocabSize, nHeads, nKvHeads, headDim, ropeDim } = config;
  const owned: GpuTensor[] = [];
  const make = (label: string, shape: number[], dtype: DType = 'f32') => {
    const t = createTensor(device, label, shape, dtype);
    owned.push(t);
    return t;
  };
  const upload = (label: string, shape: number[], data: Float32Array<ArrayBuffer>) => {
    const t = make(label, shape);
    device.queue.writeBuffer(t.buffer, 0, data);
    return t;
  };
  const position: PositionBuffers = tables.kind === 'rotate'
    ? { kind: 'rotate', table: upload('rope_table', [seqLen, ropeDim / 2, 2], tables.table) }
    : {
      kind: 'chunked',
      keyTable: upload('rope_key_table', [seqLen, ropeDim / 2, 2], tables.keyTable),
      queryTables: upload('rope_query_tables', [3, seqLen, ropeDim / 2, 2], tables.queryTables),
      scores: make('attn.scores', [chunkTokens, nHeads, seqLen]),
      chunkLen: tables.geometry.chunkLen,
    };
  // Blocks of 32 per token for the widest linear input; a width that is not a multiple of 32 never reaches the int8
  // kernels (its weights cannot be Q8_0/Q4_0/Q4_K), so rounding up only wastes a partial block.
  const int8Blocks = Math.ceil(Math.max(dim, qDim, hiddenDim) / 32);
  const int8: Int8Activations | undefined = kernelPath === 'dp4a'
    ? {
      xq: make('int8.xq', [chunkTokens, int8Blocks * 8], 'u32'),
      xd: make('int8.xd', [chunkTokens, int8Blocks]),
      xs: make('int8.xs', [chunkTokens, int8Blocks]),
    }
    : undefined;
  const lut: LutActivations | undefined = kernelPath === 'lut'
    ? {
      tables: make('lut.tables', [chunkTokens, int8Blocks * 8, 8]),
      sums: make('lut.sums', [chunkTokens, int8Blocks]),
    }
    : undefined;
  // SINQ weights only run on the lut path (load.ts), so only that path needs room for a scaled input.
  const scaledInput = kernelPath === 'lut' ? make('scaled_input', [chunkTokens, Math.max(dim, qDim, hiddenDim)]) : undefined;
  const kvLayer = (l: number): KvCacheLayer => {
    switch (kvCacheType) {
      case 'f32':
      case 'f16':
        return { type: kvCacheType, k: make(`k_cache.${l}`, [seqLen, kvDim], kvCacheType), v: make(`v_cache.${l}`, [seqLen, kvDim], kvCacheType) };
      case 'int8':
        return {
          type: 'int8',
          k: make(`k_cache.${l}`, [seqLen, kvDim / 4], 'u32'),
          v: make(`v_cache.${l}`, [seqLen, kvDim / 4], 'u32'),
          kScale: make(`k_scale.${l}`, [seqLen, nKvHeads]),
          vScale: make(`v_scale.${l}`, [seqLen, nKvHeads]),
        };
    }
  };
  const { nSplits, splitLen } = decodeSplitsFor(seqLen);
  const stepBuffer = device.createBuffer({ label: 'step', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const ws = {
    chunkTokens,
    seqLen,
    tokens: make('tokens', [chunkTokens], 'u32'),
    pieceIds: make('piece_ids', [chunkTokens], 'u32'),
    x: make('x', [chunkTokens, dim]),
    xb: make('xb', [chunkTokens, dim]),
    qkv: layout.qkv === 'region'
      ? { kind: 'region', region: make('qkv', [chunkTokens, qDim + 2 * kvDim]), qDim, kvDim } as const
      : { kind: 'separate', q: make('q', [chunkTokens, qDim]), k: make('k', [chunkTokens, kvDim]), v: make('v', [chunkTokens, kvDim]) } as const,
    attOut: make('att_out', [chunkTokens, qDim]),
    proj: make('proj', [chunkTokens, dim]),
    gate: make('gate', [chunkTokens, hiddenDim]),
    up: layout.up ? make('up', [chunkTokens, hiddenDim]) : undefined,
    splits: { nSplits, splitLen, ml: make('attn.partial_ml', [nHeads, nSplits, 2]), acc: make('attn.partial_acc', [nHeads, nSplits, headDim]) },
    logits: make('logits', [chunkTokens, vocabSize]),
    int8,
    lut,
    scaledInput,
    position,
    kvCacheType,
    kvCache: Array.from({ length: config.nLayers }, (_, l) => kvLayer(l)),
    stepBuffer,
  };
  return {
    ...ws,
    byteSize: owned.reduce((sum, t) => sum + t.byteLength, 16),
    destroy: () => {
      owned.forEach((t) => t.buffer.destroy());
      stepBuffer.destroy();
    },
  };
}
