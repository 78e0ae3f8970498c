// The T-MAC LUT kernel path on whole models, teacher-forced on llama.cpp's greedy sequences. Every linear whose
// width is a multiple of 32 is converted at load to bit-planes in groups of 32 with the width its stored type maps
// to exactly: Q8_0 → 8 bits (codes q + 128, zero point 128), Q4_0 → 4 bits (zero point 8). stories260K's ffn_down
// (172 columns) keeps its stored format; the pad256 files (the same trained function padded to widths that are
// multiples of 32, shared/README.md) put every linear on the LUT kernels, and pad256-q4_0's Q6_K output matrix is
// re-quantized by RTN at 8 bits. llama.cpp ran the unpadded files, so the pad256 variants are compared with the
// reference of the unpadded file of the same type (agreement only: their blocks of 32 hold different weights).
import { bytesSource, readGguf } from '@qgpu/formats';
import type { DeviceContext } from '@qgpu/gpu';
import { expectClose, loadReference, readSharedBytes, testGpu, TOLERANCES, type ReferenceName } from '@qgpu/testing';
import { describe, expect, it } from 'vitest';
import { layerLinears } from './load.ts';
import { LlamaModel } from './model.ts';

const gpu = await testGpu();
const ctx = gpu.ctx as DeviceContext;

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Teacher-forced logits over llama.cpp's greedy sequence: top-1 agreement and the step-0 row. */
async function teacherForced(model: LlamaModel, referenceName: ReferenceName) {
  const reference = loadReference(referenceName).greedy;
  const sequence = [...reference.prompt_token_ids, ...reference.generated_ids];
  const { logits } = await model.forward(sequence.slice(0, -1), 0, 'all');
  const first = reference.prompt_token_ids.length - 1;
  const agree = reference.generated_ids.filter((id, step) => argmax(logits[first + step]!) === id).length;
  return { agree, steps: reference.generated_ids.length, step0: logits[first]!, expected: reference.full_logits_first_steps['0']! };
}

// [file, llama.cpp reference, expected LUT width of wq, whether llama.cpp ran this very file, LUT-vs-dequant bound]
const CASES = [
  ['stories260K-q8_0.gguf', 'stories260K-q8_0', 8, true, 'logitsLutVsDequantExact'],
  ['stories260K-q4_0.gguf', 'stories260K-q4_0', 4, true, 'logitsLutVsDequantExact'],
  ['stories260K-pad256-q8_0.gguf', 'stories260K-q8_0', 8, false, 'logitsLutVsDequantExact'],
  ['stories260K-pad256-q4_0.gguf', 'stories260K-q4_0', 4, false, 'logitsLutVsDequantRtn8'],
] as const;

// Each case loads the file twice (lut, dequant) and runs 70 teacher-forced positions: ~10 s on lavapipe, minutes on
// SwiftShader, so there the pad256 files (4× the weights of the unpadded ones, same kernels) are left to lavapipe.
const PAD256_ON_SWIFTSHADER = gpu.adapter === 'swiftshader' ? ' (skipped on SwiftShader: lavapipe-only, ~10× slower there; the unpadded files run the same kernels)' : '';

async function checkLutPath(name: string, referenceName: ReferenceName, bits: number, sameFile: boolean, lutBound: 'logitsLutVsDequantExact' | 'logitsLutVsDequantRtn8') {
  const file = await readGguf(bytesSource(readSharedBytes(`models/stories260K/${name}`), name));
  const lutModel = await LlamaModel.load(ctx, file, { kernelPath: 'lut' });
  const [wq] = layerLinears(lutModel.weights.layers[0]!); // wq, or [wq; wk; wv] fused (same stored type, same width)
  expect(wq!.format === 'lut' && wq!.bits).toBe(bits);
  const lut = await teacherForced(lutModel, referenceName);
  lutModel.destroy();
  const dequantModel = await LlamaModel.load(ctx, file, { kernelPath: 'dequant' });
  const dequant = await teacherForced(dequantModel, referenceName);
  dequantModel.destroy();
  // The LUT path against the dequant path on the same file isolates what the LUT kernels and the conversion add.
  const vsDequant = expectClose(lut.step0, dequant.step0, TOLERANCES[lutBound], `${name} lut vs dequant step 0`);
  const vsLlama = sameFile ? expectClose(lut.step0, lut.expected, TOLERANCES.logitsVsLlamaCppQuant, `${name} lut vs llama.cpp step 0`) : undefined;
  console.info(`${gpu.adapter} ${name} lut (wq ${bits} bits): teacher-forced top-1 agreement ${lut.agree}/${lut.steps} `
    + `(dequant ${dequant.agree}/${dequant.steps}); step-0 max |Δlogit| vs dequant ${vsDequant.maxAbsError.toExponential(2)}`
    + (vsLlama ? `, vs llama.cpp ${vsLlama.maxAbsError.toExponential(2)}` : ' (llama.cpp ran the unpadded file)'));
  expect(lut.agree / lut.steps).toBeGreaterThanOrEqual(0.95);
}

describe.skipIf(!gpu.ctx)(`LUT kernel path on ${gpu.adapter}${gpu.ctx ? '' : ` (skipped: ${gpu.reason})`}`, () => {
  const title = '%s with kernelPath lut vs llama.cpp %s: teacher-forced top-1 agreement ≥ 0.95 and step-0 logits close';
  it.each(CASES.filter((c) => c[3]))(title, (...c) => checkLutPath(...c), 600_000);
  it.skipIf(PAD256_ON_SWIFTSHADER !== '').each(CASES.filter((c) => !c[3]))(`${title}${PAD256_ON_SWIFTSHADER}`, (...c) => checkLutPath(...c), 600_000);
});
