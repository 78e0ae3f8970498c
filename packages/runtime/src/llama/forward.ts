// The model, written down once, in order (llama2.c's forward): one plan per token count (1 for decode, the chunk
// size for prefill), recorded at load and replayed for every step. On the dp4a and lut kernel paths each linear
// input is prepared once (int8 codes or T-MAC tables), just before the linears that read it (q/k/v share xb,
// gate/up share xb); on the dequant path prep() records nothing, so the same lines describe every path.
import type { GpuTensor, PipelineCache, Plan } from '@qgpu/gpu';
import { PlanBuilder } from '@qgpu/gpu';
import { addInPlace, argmax, attention, attention3dRpeChunked, inputColumnScale, int8Input, lutInput, kvWrite, linear, rmsNorm, rmsNormLast, rope, rowsOf, siluMul, type KernelPath } from '../ops.ts';
import type { LlamaConfig } from './config.ts';
import type { LlamaWeights } from './load.ts';
import { embedSplit, linearSplit } from './row-split.ts';
import type { Weight } from './weight.ts';
import type { Workspace } from './workspace.ts';

type Ten = [GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor];

/**
 * `logitsRows`: 'all' computes the output projection for every row of the chunk (scoring, perplexity); 'last' only
 * for the step's last token (generation), which in a prefill chunk of n rows saves n − 1 vocabulary-sized GEMV rows.
 */
export function buildForwardPlan(
  cache: PipelineCache, cfg: LlamaConfig, w: LlamaWeights, ws: Workspace, n: number, label: string, path: KernelPath,
  logitsRows: 'all' | 'last' = 'all',
): Promise<Plan> {
  const p = new PlanBuilder(cache, ws.stepBuffer, label);
  // Each linear input is prepared once for the linears that read it: int8 codes (dp4a) or T-MAC tables (lut); on the
  // dequant path both return undefined and record nothing.
  // SINQ weights first scale the input in place by their shared per-column t (x ⊙= t; nothing for other formats).
  const prepRows = (rows: number, x: GpuTensor, ...readers: Weight[]) => {
    inputColumnScale(p, x, readers, rows);
    return [int8Input(p, path, x, readers, ws.int8, rows), lutInput(p, path, x, readers, ws.lut, rows)] as const;
  };
  const prep = (x: GpuTensor, ...readers: Weight[]) => prepRows(n, x, ...readers);
  const { dim, hiddenDim, nHeads, nKvHeads, headDim, ropeDim, vocabSize, normEps } = cfg;
  const dims = { nHeads, nKvHeads, headDim };
  const [pe, style] = [ws.position, cfg.rope.style];
  const [x, xb, q, k, v, attOut, proj, gate, up, logits] =
    [ws.x, ws.xb, ws.q, ws.k, ws.v, ws.attOut, ws.proj, ws.gate, ws.up, ws.logits].map((t) => rowsOf(t, n)) as Ten;

  embedSplit(p, w.tokenEmbedding, ws.tokens, x, n, ws.pieceIds, proj);  // x = E[tokens]             [n, dim]
  w.layers.forEach((layer, l) => {
    rmsNorm(p, x, layer.attnNorm, xb, n, normEps);                     // xb = rmsnorm(x)           [n, dim]
    const xbIn = prep(xb, layer.wq, layer.wk, layer.wv);                 // xbIn = int8 / tables of xb
    linear(p, layer.wq, xb, q, n, `blk.${l}.q`, ...xbIn);                  // q = Wq·xb                 [n, q_dim]
    linear(p, layer.wk, xb, k, n, `blk.${l}.k`, ...xbIn);                  // k = Wk·xb                 [n, kv_dim]
    linear(p, layer.wv, xb, v, n, `blk.${l}.v`, ...xbIn);                  // v = Wv·xb                 [n, kv_dim]
    const cache = ws.kvCache[l]!;                                      // this layer's cache        [seq, kv_dim]
    if (pe.kind === 'rotate') {                                        // RoPE, linear PI, YaRN, 3D-RPE Eq. 4
      rope(p, style, q, pe.table, nHeads, headDim, ropeDim, n);        // q = rotate(q, table[pos])
      rope(p, style, k, pe.table, nKvHeads, headDim, ropeDim, n);      // k = rotate(k, table[pos])
      kvWrite(p, k, v, cache, dims, n);                                // cache[pos..pos+n) = k, v  [seq, kv_dim]
      attention(p, { q, cache, out: attOut, splits: ws.splits, dims, nTokens: n }); // att = softmax(q·Kᵀ/√d)·V [n, q_dim]
    } else {                                                           // 3D-RPE, released code's chunks
      rope(p, style, k, pe.keyTable, nKvHeads, headDim, ropeDim, n);   // k = rotate(k, pos mod chunk_len)
      kvWrite(p, k, v, cache, dims, n);                                // cache[pos..pos+n) = k, v  [seq, kv_dim]
      attention3dRpeChunked(p, {                                       // att = softmax(q_{intra|succ|inter}·Kᵀ/√d)·V
        q, cache, out: attOut, scores: pe.scores, queryTables: pe.queryTables, dims, style, ropeDim, chunkLen: pe.chunkLen, nTokens: n,
      });
    }
    const attIn = prep(attOut, layer.wo);                                // attIn = int8 / tables of att
    linear(p, layer.wo, attOut, proj, n, `blk.${l}.o`, ...attIn);          // proj = Wo·att             [n, dim]
    addInPlace(p, x, proj, n * dim);                                   // x += proj
    rmsNorm(p, x, layer.ffnNorm, xb, n, normEps);                      // xb = rmsnorm(x)           [n, dim]
    const ffnIn = prep(xb, layer.wGate, layer.wUp);                      // ffnIn = int8 / tables of xb
    linear(p, layer.wGate, xb, gate, n, `blk.${l}.gate`, ...ffnIn);        // gate = Wg·xb              [n, hidden]
    linear(p, layer.wUp, xb, up, n, `blk.${l}.up`, ...ffnIn);              // up = Wu·xb                [n, hidden]
    siluMul(p, gate, up, n * hiddenDim);                               // gate = silu(gate)·up      [n, hidden]
    const gateIn = prep(gate, layer.wDown);                              // gateIn = int8 / tables of gate
    linear(p, layer.wDown, gate, proj, n, `blk.${l}.down`, ...gateIn);     // proj = Wd·gate            [n, dim]
    addInPlace(p, x, proj, n * dim);                                   // x += proj
  });
  const outputs = w.output.pieces.map((piece) => piece.weight);
  if (logitsRows === 'last' && n > 1) {
    const [xbLast, logitsLast] = [rowsOf(ws.xb, 1), rowsOf(ws.logits, 1)];
    rmsNormLast(p, x, w.outputNorm, xbLast, normEps);                  // xb[0] = rmsnorm(x[n_tokens−1]) [1, dim]
    const outIn = prepRows(1, xbLast, ...outputs);                      // outIn = int8 / tables of xb[0]
    linearSplit(p, w.output, xbLast, logitsLast, 1, 'output', ...outIn);   // logits[0] = Wout·xb[0]   [1, vocab]
    argmax(p, logitsLast, rowsOf(ws.tokens, 1), vocabSize, 'first');    // tokens[0] = argmax(logits[0])
  } else {
    rmsNorm(p, x, w.outputNorm, xb, n, normEps);                       // xb = rmsnorm(x)           [n, dim]
    const outIn = prep(xb, ...outputs);                                 // outIn = int8 / tables of xb
    linearSplit(p, w.output, xb, logits, n, 'output', ...outIn);           // logits = Wout·xb          [n, vocab]
    argmax(p, logits, rowsOf(ws.tokens, 1), vocabSize);                 // tokens[0] = argmax(logits[n_tokens−1])
  }
  return p.build();
}
