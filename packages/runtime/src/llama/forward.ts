// The model, written down once, in order (llama2.c's forward): one plan per token count (1 for decode, the chunk
// size for prefill), recorded at load and replayed for every step. On the dp4a kernel path each linear input is
// quantized to int8 once, just before the linears that read it (q/k/v share xb, gate/up share xb); on the dequant
// path int8() records nothing and returns undefined, so the same lines describe both.
import type { GpuTensor, PipelineCache, Plan } from '@qgpu/gpu';
import { PlanBuilder } from '@qgpu/gpu';
import { addInPlace, argmax, attention, embed, int8Input, kvWrite, linear, rmsNorm, ropeLlama, rowsOf, siluMul, type KernelPath } from '../ops.ts';
import type { LlamaConfig } from './config.ts';
import type { LlamaWeights } from './load.ts';
import type { Weight } from './weight.ts';
import type { Workspace } from './workspace.ts';

type Ten = [GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor, GpuTensor];

export function buildForwardPlan(
  cache: PipelineCache, cfg: LlamaConfig, w: LlamaWeights, ws: Workspace, n: number, label: string, path: KernelPath,
): Promise<Plan> {
  const p = new PlanBuilder(cache, ws.stepBuffer, label);
  const int8 = (x: GpuTensor, ...readers: Weight[]) => int8Input(p, path, x, readers, ws.int8, n);
  const { dim, hiddenDim, nHeads, nKvHeads, headDim, ropeDim, vocabSize, normEps } = cfg;
  const [x, xb, q, k, v, attOut, proj, gate, up, logits] =
    [ws.x, ws.xb, ws.q, ws.k, ws.v, ws.attOut, ws.proj, ws.gate, ws.up, ws.logits].map((t) => rowsOf(t, n)) as Ten;

  embed(p, w.tokenEmbedding, ws.tokens, x, n);                          // x = E[tokens]             [n, dim]
  w.layers.forEach((layer, l) => {
    rmsNorm(p, x, layer.attnNorm, xb, n, normEps);                     // xb = rmsnorm(x)           [n, dim]
    const xb8 = int8(xb, layer.wq, layer.wk, layer.wv);                // xb8 = int8(xb)            [n, dim/32] blocks
    linear(p, layer.wq, xb, q, n, `blk.${l}.q`, xb8);                  // q = Wq·xb                 [n, q_dim]
    linear(p, layer.wk, xb, k, n, `blk.${l}.k`, xb8);                  // k = Wk·xb                 [n, kv_dim]
    linear(p, layer.wv, xb, v, n, `blk.${l}.v`, xb8);                  // v = Wv·xb                 [n, kv_dim]
    ropeLlama(p, q, ws.ropeTable, nHeads, headDim, ropeDim, n);         // q = rope(q, pos)
    ropeLlama(p, k, ws.ropeTable, nKvHeads, headDim, ropeDim, n);       // k = rope(k, pos)
    kvWrite(p, k, v, ws.kCache[l]!, ws.vCache[l]!, n);                 // cache[pos..pos+n) = k, v  [seq, kv_dim]
    attention(p, q, ws.kCache[l]!, ws.vCache[l]!, ws.scores, attOut,   // att = softmax(q·Kᵀ/√d)·V  [n, q_dim]
      { nHeads, nKvHeads, headDim }, n);
    const att8 = int8(attOut, layer.wo);                               // att8 = int8(att)          [n, q_dim/32] blocks
    linear(p, layer.wo, attOut, proj, n, `blk.${l}.o`, att8);          // proj = Wo·att             [n, dim]
    addInPlace(p, x, proj, n * dim);                                   // x += proj
    rmsNorm(p, x, layer.ffnNorm, xb, n, normEps);                      // xb = rmsnorm(x)           [n, dim]
    const ffn8 = int8(xb, layer.wGate, layer.wUp);                     // ffn8 = int8(xb)           [n, dim/32] blocks
    linear(p, layer.wGate, xb, gate, n, `blk.${l}.gate`, ffn8);        // gate = Wg·xb              [n, hidden]
    linear(p, layer.wUp, xb, up, n, `blk.${l}.up`, ffn8);              // up = Wu·xb                [n, hidden]
    siluMul(p, gate, up, n * hiddenDim);                               // gate = silu(gate)·up      [n, hidden]
    const gate8 = int8(gate, layer.wDown);                             // gate8 = int8(gate)        [n, hidden/32] blocks
    linear(p, layer.wDown, gate, proj, n, `blk.${l}.down`, gate8);     // proj = Wd·gate            [n, dim]
    addInPlace(p, x, proj, n * dim);                                   // x += proj
  });
  rmsNorm(p, x, w.outputNorm, xb, n, normEps);                         // xb = rmsnorm(x)           [n, dim]
  const out8 = int8(xb, w.output);                                     // out8 = int8(xb)           [n, dim/32] blocks
  linear(p, w.output, xb, logits, n, 'output', out8);                  // logits = Wout·xb          [n, vocab]
  argmax(p, logits, rowsOf(ws.tokens, 1), vocabSize);                   // tokens[0] = argmax(logits[n_tokens−1])
  return p.build();
}
