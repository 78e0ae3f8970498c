// The model, written down once, in order (llama2.c's forward): one plan per token count (1 for decode, the chunk
// size for prefill), recorded at load and replayed for every step. On the dp4a and lut kernel paths each linear
// input is prepared once (int8 codes or T-MAC tables), just before the linears that read it (q/k/v share xb,
// gate/up share xb) — except for SINQ linears, each of which reads and prepares its own copy x ⊙ t (mat()); on the
// dequant path prep() records nothing, so the same lines describe every path. With the fusions (fuse.ts) a layer is
// 11 dispatches on the dequant path: one linear writes q, k, v ('split'), one computes silu(gate)·up ('glu'), and the
// output and down projections add into x themselves ('add').
import type { GpuTensor, PipelineCache, Plan } from '@qgpu/gpu';
import { PlanBuilder } from '@qgpu/gpu';
import {
  addInPlace, argmax, attention, attention3dRpeChunked, inputColumnScale, int8Input, lutInput, kvWrite, linear, rmsNorm, rmsNormLast, rope, rowsOf,
  sharedInputReaders, siluMul, type KernelPath, type LinearEpilogue,
} from '../ops.ts';
import type { LlamaConfig } from './config.ts';
import type { Fusions } from './fuse.ts';
import type { LlamaWeights } from './load.ts';
import { embedSplit, linearSplit } from './row-split.ts';
import type { Weight } from './weight.ts';
import { qkvOf, type Workspace } from './workspace.ts';

type Six = [GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor];
const STORE: LinearEpilogue = { kind: 'store' };
const ADD: LinearEpilogue = { kind: 'add' };
const GLU: LinearEpilogue = { kind: 'glu' };

/**
 * `logitsRows`: 'all' computes the output projection for every row of the chunk (scoring, perplexity); 'last' only
 * for the step's last token (generation), which in a prefill chunk of n rows saves n − 1 vocabulary-sized GEMV rows.
 */
export function buildForwardPlan(
  cache: PipelineCache, cfg: LlamaConfig, w: LlamaWeights, ws: Workspace, n: number, label: string, path: KernelPath,
  fuse: Pick<Fusions, 'residual'>, logitsRows: 'all' | 'last' = 'all',
): Promise<Plan> {
  const p = new PlanBuilder(cache, ws.stepBuffer, label);
  // Each linear input is prepared once for the linears that read it: int8 codes (dp4a) or T-MAC tables (lut); on the
  // dequant path both return undefined and record nothing.
  const prepRows = (rows: number, x: GpuTensor, ...readers: Weight[]) =>
    [int8Input(p, path, x, readers, ws.int8, rows), lutInput(p, path, x, readers, ws.lut, rows)] as const;
  const prep = (x: GpuTensor, ...readers: Weight[]) => prepRows(n, x, ...sharedInputReaders(readers));
  // out = W·x, then the epilogue (store, add into out, glu, split). A SINQ linear carries its own per-input-column
  // scale t (methods.md §2.5): it reads xt = x ⊙ t, written to ws.scaledInput and prepared just before it; any other
  // linear reads x with the inputs `xIn` prep() made once.
  const mat = (w: Weight, x: GpuTensor, out: GpuTensor, label: string, xIn: ReturnType<typeof prep>, epilogue = STORE) => {
    const xt = inputColumnScale(p, x, [w], ws.scaledInput, n);         // xt = x ⊙ t_w (SINQ), else x
    const [x8, xl] = xt === x ? xIn : prepRows(n, xt, w);
    linear(p, w, xt, out, n, label, x8, xl, epilogue);
  };
  const { dim, hiddenDim, qDim, kvDim, nHeads, nKvHeads, headDim, ropeDim, vocabSize, normEps } = cfg;
  const dims = { nHeads, nKvHeads, headDim };
  const [pe, style] = [ws.position, cfg.rope.style];
  const [x, xb, attOut, proj, gate, logits] = [ws.x, ws.xb, ws.attOut, ws.proj, ws.gate, ws.logits].map((t) => rowsOf(t, n)) as Six;
  const { q, k, v } = qkvOf(ws, n);                                    // views of one region with fused QKV
  const qkv = () => rowsOf(ws.qkv.kind === 'region' ? ws.qkv.region : missing('qkv region'), n);
  const up = () => rowsOf(ws.up ?? missing('up'), n);
  // x += W·input: the linear's 'add' epilogue, or (fuse.residual off) a store to proj and add_inplace.
  const addMat = (w: Weight, input: GpuTensor, label: string, xIn: ReturnType<typeof prep>) => {
    if (fuse.residual) return mat(w, input, x, label, xIn, ADD);
    mat(w, input, proj, label, xIn);
    addInPlace(p, x, proj, n * dim);
  };

  embedSplit(p, w.tokenEmbedding, ws.tokens, x, n, ws.pieceIds, proj);  // x = E[tokens]             [n, dim]
  w.layers.forEach((layer, l) => {
    rmsNorm(p, x, layer.attnNorm, xb, n, normEps);                     // xb = rmsnorm(x)           [n, dim]
    if ('fused' in layer.qkv) {
      const wqkv = layer.qkv.fused;                                    // [Wq; Wk; Wv]              [q_dim + 2·kv_dim, dim]
      const split: LinearEpilogue = { kind: 'split', segmentRows: [qDim, kvDim, kvDim] };
      mat(wqkv, xb, qkv(), `blk.${l}.qkv`, prep(xb, wqkv), split);     // q, k, v = Wqkv·xb         [n, q_dim] [n, kv_dim] ×2
    } else {
      const { q: wq, k: wk, v: wv } = layer.qkv;
      const xbIn = prep(xb, wq, wk, wv);                               // xbIn = int8 / tables of xb
      mat(wq, xb, q, `blk.${l}.q`, xbIn);                              // q = Wq·xb                 [n, q_dim]
      mat(wk, xb, k, `blk.${l}.k`, xbIn);                              // k = Wk·xb                 [n, kv_dim]
      mat(wv, xb, v, `blk.${l}.v`, xbIn);                              // v = Wv·xb                 [n, kv_dim]
    }
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
    addMat(layer.wo, attOut, `blk.${l}.o`, prep(attOut, layer.wo));    // x += Wo·att               [n, dim]
    rmsNorm(p, x, layer.ffnNorm, xb, n, normEps);                      // xb = rmsnorm(x)           [n, dim]
    if ('fused' in layer.gateUp) {
      const wgu = layer.gateUp.fused;                                  // rows gate_0, up_0, …      [2·hidden, dim]
      mat(wgu, xb, gate, `blk.${l}.gate_up`, prep(xb, wgu), GLU);      // gate = silu(Wg·xb)·(Wu·xb) [n, hidden]
    } else {
      const { gate: wg, up: wu } = layer.gateUp;
      const ffnIn = prep(xb, wg, wu);                                  // ffnIn = int8 / tables of xb
      mat(wg, xb, gate, `blk.${l}.gate`, ffnIn);                       // gate = Wg·xb              [n, hidden]
      mat(wu, xb, up(), `blk.${l}.up`, ffnIn);                         // up = Wu·xb                [n, hidden]
      siluMul(p, gate, up(), n * hiddenDim);                           // gate = silu(gate)·up      [n, hidden]
    }
    addMat(layer.wDown, gate, `blk.${l}.down`, prep(gate, layer.wDown)); // x += Wd·gate              [n, dim]
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

function missing(buffer: string): never {
  throw new Error(`the workspace has no '${buffer}' buffer, which a layer with unfused weights needs`);
}
