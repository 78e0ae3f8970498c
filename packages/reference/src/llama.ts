// The whole Llama forward pass on the CPU, written as llama2.c's `forward()` so the architecture reads top to
// bottom. It composes the op twins in ops.ts, so a GPU plan that chains the same kernels can be checked stage by
// stage as well as end to end.
import { add, attention, embed, matmul, rmsNorm, siluMul } from './ops.ts';
import { attention3dRpeChunked, ropeRotate, threeDRpeEq4, type RopeSpec } from './rope.ts';

/** Hyperparameters of a Llama-family decoder (names follow GGUF's `llama.*` metadata keys). */
export interface LlamaConfig {
  /** Residual stream width (`embedding_length`). */
  dim: number;
  /** FFN inner width (`feed_forward_length`). */
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  /** Key/value heads; `nHeads / nKvHeads` query heads share each (grouped-query attention). */
  nKvHeads: number;
  headDim: number;
  vocabSize: number;
  /** Maximum number of positions the KV cache holds. */
  contextLength: number;
  /** Leading dims of each head that RoPE rotates (`rope.dimension_count`). */
  ropeDim: number;
  ropeFreqBase: number;
  normEps: number;
  /** Pair layout and frequency scaling; absent means GGUF llama pairs, `ropeDim`, `ropeFreqBase`, no scaling. */
  rope?: RopeSpec;
}

/**
 * How positions enter attention (docs/position-encoding.md): the model's RoPE; RoPE with linear interpolation by
 * `factor` (replacing the model's scaling); 3D-RPE Eq. 4 with chunk size c (φ_j = phaseBase^(−j)); or the released
 * 3D-RPE code's chunked attention with chunk_size and local_window.
 */
export type ReferencePositionEncoding =
  | { readonly type: 'rope' }
  | { readonly type: 'linear'; readonly factor: number }
  | { readonly type: '3d-rpe-eq4'; readonly chunkSize: number; readonly phaseBase: number }
  | { readonly type: '3d-rpe-chunked'; readonly chunkSize: number; readonly localWindow: number; readonly phaseBase: number };

/** One transformer block's weights; matrices are row-major [out_features, in_features]. */
export interface LlamaLayerWeights {
  /** [dim] */
  attnNorm: Float32Array;
  /** [nHeads·headDim, dim] */
  wq: Float32Array;
  /** [nKvHeads·headDim, dim] */
  wk: Float32Array;
  /** [nKvHeads·headDim, dim] */
  wv: Float32Array;
  /** [dim, nHeads·headDim] */
  wo: Float32Array;
  /** [dim] */
  ffnNorm: Float32Array;
  /** [hiddenDim, dim] */
  wGate: Float32Array;
  /** [hiddenDim, dim] */
  wUp: Float32Array;
  /** [dim, hiddenDim] */
  wDown: Float32Array;
}

/** All weights of a Llama model, decoded to float32. */
export interface LlamaWeights {
  /** [vocabSize, dim] */
  tokenEmbedding: Float32Array;
  layers: LlamaLayerWeights[];
  /** [dim] */
  outputNorm: Float32Array;
  /** [vocabSize, dim]; the same array as `tokenEmbedding` when the model ties them. */
  output: Float32Array;
}

/**
 * A stateful float32 Llama: a per-layer KV cache of `contextLength` positions plus the forward pass.
 * Intended as the golden model for GPU plans and for end-to-end tests against llama.cpp's outputs.
 */
/**
 * Computes one linear layer y = W·x for x [n, cols] → y [n, rows]; `name` is the GGUF tensor name
 * (`blk.{l}.attn_q.weight`, …, `output.weight`). The default is the f32 `matmul`; a hook can observe the input
 * (calibration statistics) or quantize it first (int8-activation simulations).
 */
export type LinearHook = (name: string, w: Float32Array, x: Float32Array, rows: number, cols: number, n: number) => Float32Array;

export class ReferenceLlama {
  readonly config: LlamaConfig;
  private readonly weights: LlamaWeights;
  private readonly linear: LinearHook;
  /** Per layer, [contextLength, nKvHeads·headDim] (post-RoPE keys, and values). */
  private readonly keyCache: Float32Array[];
  private readonly valueCache: Float32Array[];
  /** Positions `0 … cachedLength-1` hold valid K/V. */
  private cachedLength = 0;

  private readonly rope: RopeSpec;

  constructor(
    config: LlamaConfig, weights: LlamaWeights, linear: LinearHook = (_name, w, x, rows, cols, n) => matmul(w, x, rows, cols, n),
    private readonly encoding: ReferencePositionEncoding = { type: 'rope' },
  ) {
    this.linear = linear;
    this.rope = config.rope ?? { dim: config.ropeDim, style: 'norm', freqBase: config.ropeFreqBase, scaling: { type: 'none' } };
    if (weights.layers.length !== config.nLayers) {
      throw new RangeError(`ReferenceLlama: config has ${config.nLayers} layers, weights have ${weights.layers.length}`);
    }
    this.config = config;
    this.weights = weights;
    const kvSize = config.contextLength * config.nKvHeads * config.headDim;
    this.keyCache = Array.from({ length: config.nLayers }, () => new Float32Array(kvSize));
    this.valueCache = Array.from({ length: config.nLayers }, () => new Float32Array(kvSize));
  }

  /** Forgets every cached position (the cache contents are then overwritten by the next forward). */
  reset(): void {
    this.cachedLength = 0;
  }

  /**
   * Applies the position encoding to q or k ([n, heads·headDim]) at `positions`. The chunked 3D-RPE leaves queries
   * unrotated (its attention rotates them per key chunk) and rotates keys at p mod chunk_len.
   */
  private encode(x: Float32Array, n: number, heads: number, positions: readonly number[], role: 'query' | 'key'): Float32Array {
    const { headDim } = this.config;
    const e = this.encoding;
    switch (e.type) {
      case 'rope': return ropeRotate(x, n, heads, headDim, this.rope, positions);
      case 'linear': return ropeRotate(x, n, heads, headDim, { ...this.rope, scaling: { type: 'linear', factor: e.factor } }, positions);
      case '3d-rpe-eq4': {
        const out = new Float32Array(x.length);
        for (let t = 0; t < n; t++) {
          for (let h = 0; h < heads; h++) {
            const at = (t * heads + h) * headDim;
            out.set(threeDRpeEq4(x.subarray(at, at + headDim), this.rope, positions[t]!, e.chunkSize, e.phaseBase), at);
          }
        }
        return out;
      }
      case '3d-rpe-chunked': {
        if (role === 'query') return x;
        const chunkLen = e.chunkSize - e.localWindow;
        return ropeRotate(x, n, heads, headDim, this.rope, positions.map((p) => p % chunkLen));
      }
    }
  }

  /**
   * Runs `tokens` at positions `startPos … startPos+tokens.length-1` through every layer, writing their K/V into
   * the cache (prefill when several tokens, decode when one), and returns logits [tokens.length, vocabSize].
   * `startPos` may rewind into the cache but not skip past its end, since the skipped positions would be garbage.
   */
  forward(tokens: readonly number[], startPos: number): Float32Array {
    const c = this.config;
    const n = tokens.length;
    if (n === 0) throw new RangeError('forward: no tokens');
    if (!Number.isInteger(startPos) || startPos < 0 || startPos > this.cachedLength) {
      throw new RangeError(`forward: startPos ${startPos} must be in 0…${this.cachedLength} (positions cached so far)`);
    }
    if (startPos + n > c.contextLength) {
      throw new RangeError(`forward: positions up to ${startPos + n - 1} exceed the context length ${c.contextLength}`);
    }
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    const positions = Array.from({ length: n }, (_, t) => startPos + t);

    let x = embed(this.weights.tokenEmbedding, c.dim, tokens);
    this.weights.layers.forEach((layer, l) => {
      // Attention block: pre-norm, projections, RoPE on q and k, cache append, causal attention, output projection.
      let xb = rmsNorm(x, layer.attnNorm, n, c.dim, c.normEps);
      const q = this.encode(this.linear(`blk.${l}.attn_q.weight`, layer.wq, xb, qDim, c.dim, n), n, c.nHeads, positions, 'query');
      const k = this.encode(this.linear(`blk.${l}.attn_k.weight`, layer.wk, xb, kvDim, c.dim, n), n, c.nKvHeads, positions, 'key');
      const v = this.linear(`blk.${l}.attn_v.weight`, layer.wv, xb, kvDim, c.dim, n);
      const keys = this.keyCache[l]!;
      const values = this.valueCache[l]!;
      keys.set(k, startPos * kvDim);
      values.set(v, startPos * kvDim);
      const e = this.encoding;
      const att = e.type === '3d-rpe-chunked'
        ? attention3dRpeChunked(q, keys, values, n, startPos, c.nHeads, c.nKvHeads, c.headDim, this.rope, e)
        : attention(q, keys, values, n, startPos, c.nHeads, c.nKvHeads, c.headDim);
      x = add(x, this.linear(`blk.${l}.attn_output.weight`, layer.wo, att, c.dim, qDim, n));

      // Feed-forward block: pre-norm, SwiGLU, down projection.
      xb = rmsNorm(x, layer.ffnNorm, n, c.dim, c.normEps);
      const gate = this.linear(`blk.${l}.ffn_gate.weight`, layer.wGate, xb, c.hiddenDim, c.dim, n);
      const up = this.linear(`blk.${l}.ffn_up.weight`, layer.wUp, xb, c.hiddenDim, c.dim, n);
      x = add(x, this.linear(`blk.${l}.ffn_down.weight`, layer.wDown, siluMul(gate, up), c.dim, c.hiddenDim, n));
    });
    this.cachedLength = startPos + n;

    const final = rmsNorm(x, this.weights.outputNorm, n, c.dim, c.normEps);
    return this.linear('output.weight', this.weights.output, final, c.vocabSize, c.dim, n);
  }
}
