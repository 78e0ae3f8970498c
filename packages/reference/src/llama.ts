// The whole Llama forward pass on the CPU, written as llama2.c's `forward()` so the architecture reads top to
// bottom. It composes the op twins in ops.ts, so a GPU plan that chains the same kernels can be checked stage by
// stage as well as end to end.
import { add, attention, embed, matmul, rmsNorm, ropeLlama, siluMul } from './ops.ts';

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
}

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

  constructor(config: LlamaConfig, weights: LlamaWeights, linear: LinearHook = (_name, w, x, rows, cols, n) => matmul(w, x, rows, cols, n)) {
    this.linear = linear;
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
      const q = ropeLlama(this.linear(`blk.${l}.attn_q.weight`, layer.wq, xb, qDim, c.dim, n), n, c.nHeads, c.headDim, positions, c.ropeDim, c.ropeFreqBase);
      const k = ropeLlama(this.linear(`blk.${l}.attn_k.weight`, layer.wk, xb, kvDim, c.dim, n), n, c.nKvHeads, c.headDim, positions, c.ropeDim, c.ropeFreqBase);
      const v = this.linear(`blk.${l}.attn_v.weight`, layer.wv, xb, kvDim, c.dim, n);
      const keys = this.keyCache[l]!;
      const values = this.valueCache[l]!;
      keys.set(k, startPos * kvDim);
      values.set(v, startPos * kvDim);
      const att = attention(q, keys, values, n, startPos, c.nHeads, c.nKvHeads, c.headDim);
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
