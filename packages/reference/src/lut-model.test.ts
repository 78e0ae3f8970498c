// How much the LUT format's conversion costs a whole model, measured on the CPU: every linear of
// stories260K-pad256-q4_0 is converted from its stored bytes with lutFromTensor (Q4_0 at 4 bits / group 32 exactly,
// everything else by RTN) and decoded again, and the reference forward is teacher-forced over llama.cpp's greedy sequence for the Q4_0 file (pad256 has
// the same function: its padded FFN columns are zero). lut_gemv reproduces W·x on dequantizeLut weights to NMSE
// ~1e-13 (lut-ops.gpu.test.ts), so this is the accuracy the GPU LUT path can reach; the numbers are printed.
import { readFileSync } from 'node:fs';
import {
  assertSupportedType, bytesSource, dequantizeLut, lutFromTensor, readGguf, readTensorBytes, type LutBits, type LutGroup,
} from '@qgpu/formats';
import { describe, expect, it } from 'vitest';
import { ReferenceLlama, type LlamaLayerWeights, type LlamaWeights } from './llama.ts';
import { loadReferenceModel } from './load.ts';
import { argmax } from './ops.ts';

const SHARED = process.env.QGPU_FIXTURES ?? new URL('../../../../shared/', import.meta.url).pathname;
const FILE = 'stories260K-pad256-q4_0.gguf';
const greedy = (JSON.parse(readFileSync(`${SHARED}/reference/stories260K-q4_0.json`, 'utf8')) as {
  greedy: { prompt_token_ids: number[]; generated_ids: number[] };
}).greedy;

/**
 * The exact Q4_0 mapping leaves only output.weight (Q6_K in this file) re-quantized by RTN: measured 98.4% (63/64)
 * against 100% for the unconverted weights; 95% is the project's agreement bar for quantized paths.
 */
const MIN_AGREEMENT_B4_G32 = 0.95;

const LINEARS = ['wq', 'wk', 'wv', 'wo', 'wGate', 'wUp', 'wDown'] as const;

function agreement(model: ReferenceLlama): number {
  const sequence = [...greedy.prompt_token_ids, ...greedy.generated_ids];
  const logits = model.forward(sequence.slice(0, -1), 0);
  const vocab = model.config.vocabSize;
  const first = greedy.prompt_token_ids.length - 1;
  const agree = greedy.generated_ids.filter((id, s) => argmax(logits.subarray((first + s) * vocab, (first + s + 1) * vocab)) === id).length;
  return agree / greedy.generated_ids.length;
}

const file = await readGguf(bytesSource(new Uint8Array(readFileSync(`${SHARED}/models/stories260K/${FILE}`)), FILE));
const { config, weights } = await loadReferenceModel(file);
const GGUF_LINEARS = { wq: 'attn_q', wk: 'attn_k', wv: 'attn_v', wo: 'attn_output', wGate: 'ffn_gate', wUp: 'ffn_up', wDown: 'ffn_down' } as const;
const tensorTypes = new Map(file.tensors.map((t) => [t.name, t.typeName]));

/** A linear converted from its file bytes and decoded back to f32 (GGUF ne = [cols, rows]). */
async function viaLut(name: string, bits: LutBits, group: LutGroup): Promise<Float32Array> {
  const info = file.tensors.find((t) => t.name === name)!;
  const [cols, rows] = info.ne as [number, number];
  return dequantizeLut(lutFromTensor(assertSupportedType(info, FILE), await readTensorBytes(file, info), rows, cols, bits, group));
}

async function converted(bits: LutBits, group: LutGroup): Promise<LlamaWeights> {
  const layers = await Promise.all(weights.layers.map(async (layer, l) => {
    const copy: LlamaLayerWeights = { ...layer };
    for (const key of LINEARS) copy[key] = await viaLut(`blk.${l}.${GGUF_LINEARS[key]}.weight`, bits, group);
    return copy;
  }));
  // The output projection is a linear too (the runtime would convert it); the embedding table is a gather and stays.
  const output = tensorTypes.has('output.weight') ? await viaLut('output.weight', bits, group) : weights.output;
  return { ...weights, layers, output };
}

describe(`LUT conversion of ${FILE} (CPU reference forward)`, () => {
  const baseline = agreement(new ReferenceLlama(config, weights));

  it('4-bit, group 32 (the runtime default): teacher-forced top-1 agreement with llama.cpp, measured', async () => {
    const types = [...new Set(file.tensors.filter((t) => t.ne.length === 2 && t.name !== 'token_embd.weight').map((t) => `${t.name.replace(/blk\.\d+\./, '')}:${t.typeName}`))];
    const rate = agreement(new ReferenceLlama(config, await converted(4, 32)));
    console.info(`${FILE} LUT b=4 g=32: top-1 agreement ${(rate * 100).toFixed(1)}% (unconverted weights: ${(baseline * 100).toFixed(1)}%; linears ${types.join(', ')})`);
    expect(rate).toBeGreaterThanOrEqual(MIN_AGREEMENT_B4_G32);
  });

  // Every other setting re-quantizes the Q4_0 linears by RTN; printed for the record. RTN at 4 bits / 64 already
  // falls below the exact mapping, which is why the runtime default is 4 / 32.
  it.each([[4, 64], [3, 32], [2, 32], [2, 64], [1, 32]] as [LutBits, LutGroup][])('b=%i g=%i (RTN): agreement printed, below the exact mapping', async (bits, group) => {
    const rate = agreement(new ReferenceLlama(config, await converted(bits, group)));
    console.info(`${FILE} LUT b=${bits} g=${group}: top-1 agreement ${(rate * 100).toFixed(1)}%`);
    expect(rate).toBeLessThan(MIN_AGREEMENT_B4_G32);
  });
});

