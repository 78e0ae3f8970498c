// The model, written down once, in order (llama2.c's forward): one plan per token count (1 for decode, the chunk
// size for prefill), recorded at load and replayed for every step. On the dp4a and lut kernel paths each linear
// input is prepared once (int8 codes or T-MAC tables), just before the linears that read it (q/k/v share xb,
// gate/up share xb) — except for SINQ linears, each of which reads and prepares its own copy x ⊙ t (mat()); on the
// dequant path prep() records nothing, so the same lines describe every path.
import type { GpuTensor, PipelineCache, Plan } from '@qgpu/gpu';
import { PlanBuilder } from '@qgpu/gpu';
import { addInPlace, argmax, attention, attention3dRpeChunked, inputColumnScale, int8Input, lutInput, kvWrite, linear, rmsNorm, rmsNormLast, rope, rowsOf, sharedInputReaders, siluMul, type KernelPath } from '../ops.ts';
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
  const prepRows = (rows: number, x: GpuTensor, ...readers: Weight[]) =>
    [int8Input(p, path, x, readers, ws.int8, rows), lutInput(p, path, x, readers, ws.lut, rows)] as const;
  const prep = (x: GpuTensor, ...readers: Weight[]) => prepRows(n, x, ...sharedInputReaders(readers));
  // out = W·x. A SINQ linear carries its own per-input-column scale t (methods.md §2.5): it reads xt = x ⊙ t, written
  // to ws.scaledInput and prepared just before it; any other linear reads x with the inputs `xIn` prep() made once.
  const mat = (w: Weight, x: GpuTensor, out: GpuTensor, label: string, xIn: ReturnType<typeof prep>) => {
    const xt = inputColumnScale(p, x, [w], ws.scaledInput, n);         // xt = x ⊙ t_w (SINQ), else x
    linear(p, w, xt, out, n, label, ...(xt === x ? xIn : prepRows(n, xt, w)));
  };
  const { dim, hiddenDim, nHeads, nKvHeads, headDim, ropeDim, vocabSize, normEps } = cfg;
  const dims = { nHeads, nKvHeads, headDim };
  const [pe, style] = [ws.position, cfg.rope.style];
  const [x, xb, q, k, v, attOut, proj, gate, up, logits] =
    [ws.x, ws.xb, ws.q, ws.k, ws.v, ws.attOut, ws.proj, ws.gate, ws.up, ws.logits].map((t) => rowsOf(t, n)) as Ten;

  embedSplit(p, w.tokenEmbedding, ws.tokens, x, n, ws.pieceIds, proj);  // x = E[tokens]             [n, dim]
  w.layers.forEach((layer, l) => {
    rmsNorm(p, x, layer.attnNorm, xb, n, normEps);                     // xb = rmsnorm(x)           [n, dim]
    const xbIn = prep(xb, layer.wq, layer.wk, layer.wv);                 // xbIn = int8 / tables of xb
    mat(layer.wq, xb, q, `blk.${l}.q`, xbIn);                            // q = Wq·xb                 [n, q_dim]
    mat(layer.wk, xb, k, `blk.${l}.k`, xbIn);                            // k = Wk·xb                 [n, kv_dim]
    mat(layer.wv, xb, v, `blk.${l}.v`, xbIn);                            // v = Wv·xb                 [n, kv_dim]
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
    mat(layer.wo, attOut, proj, `blk.${l}.o`, attIn);                    // proj = Wo·att             [n, dim]
    addInPlace(p, x, proj, n * dim);                                   // x += proj
    rmsNorm(p, x, layer.ffnNorm, xb, n, normEps);                      // xb = rmsnorm(x)           [n, dim]
    const ffnIn = prep(xb, layer.wGate, layer.wUp);                      // ffnIn = int8 / tables of xb
    mat(layer.wGate, xb, gate, `blk.${l}.gate`, ffnIn);                  // gate = Wg·xb              [n, hidden]
    mat(layer.wUp, xb, up, `blk.${l}.up`, ffnIn);                        // up = Wu·xb                [n, hidden]
    siluMul(p, gate, up, n * hiddenDim);                               // gate = silu(gate)·up      [n, hidden]
    const gateIn = prep(gate, layer.wDown);                              // gateIn = int8 / tables of gate
    mat(layer.wDown, gate, proj, `blk.${l}.down`, gateIn);               // proj = Wd·gate            [n, dim]
    addInPlace(p, x, proj, n * dim);                                   // x += proj
  });
  const outputs = w.output.pieces.map((piece) => piece.weight);
  if (logitsRows === 'last' && n > 1) {
    const [xbLast, logitsLast] = [rowsOf(ws.xb, 1), rowsOf(ws.logits, 1)];
    rmsNormLast(p, x, w.outputNorm, xbLast, normEps);                  // xb[0] = rmsnorm(x[n_tokens−1]) [1, dim]
    const xo = inputColumnScale(p, xbLast, outputs, ws.scaledInput, 1); // xo = xb[0] ⊙ t_out (SINQ), else xb[0]
    const outIn = prepRows(1, xo, ...outputs);                          // outIn = int8 / tables of xo
    linearSplit(p, w.output, xo, logitsLast, 1, 'output', ...outIn);       // logits[0] = Wout·xo      [1, vocab]
    argmax(p, logitsLast, rowsOf(ws.tokens, 1), vocabSize, 'first');    // tokens[0] = argmax(logits[0])
  } else {
    rmsNorm(p, x, w.outputNorm, xb, n, normEps);                       // xb = rmsnorm(x)           [n, dim]
    const xo = inputColumnScale(p, xb, outputs, ws.scaledInput, n);     // xo = xb ⊙ t_out (SINQ), else xb
    const outIn = prepRows(n, xo, ...outputs);                          // outIn = int8 / tables of xo
    linearSplit(p, w.output, xo, logits, n, 'output', ...outIn);           // logits = Wout·xo          [n, vocab]
    argmax(p, logits, rowsOf(ws.tokens, 1), vocabSize);                 // tokens[0] = argmax(logits[n_tokens−1])
  }
  return p.build();
}
