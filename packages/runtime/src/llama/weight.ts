// A matrix in its GPU layout. F32/F16 stay dense; GGUF quant blocks are repacked once at load into aligned
// structure-of-arrays parts (see @qgpu/formats quant/ and shaders/lib/quant/), so kernels never parse GGUF bytes.
// The 'lut' format (T-MAC bit-planes, @qgpu/formats lut/) is converted from any stored type at load, on request.
import { decodeToF32, lutFromTensor, repack, tensorAsF16Bits, type LutBits, type LutGroup, type QuantTypeName } from '@qgpu/formats';
import { uploadTensor, type GpuTensor } from '@qgpu/gpu';
import { lutFromGroups, type GroupQuantized } from '@qgpu/quant';

type Parts<K extends string> = { readonly [P in K]: GpuTensor };

/** Matrix [rows = out_features, cols = in_features]; the union is exhaustive so every op must handle every format. */
export type Weight = { readonly rows: number; readonly cols: number } & (
  | { readonly format: 'f32' | 'f16'; readonly data: GpuTensor }
  | { readonly format: 'q8_0' | 'q4_0'; readonly parts: Parts<'qs' | 'd'>; readonly crossQuant?: CrossQuantInput }
  | { readonly format: 'q4_1'; readonly parts: Parts<'qs' | 'dm'> }
  | { readonly format: 'q5_0'; readonly parts: Parts<'qs' | 'qh' | 'd'> }
  | { readonly format: 'q5_1'; readonly parts: Parts<'qs' | 'qh' | 'dm'> }
  | { readonly format: 'q4_k'; readonly parts: Parts<'qs' | 'scales' | 'dm'>; readonly crossQuant?: CrossQuantInput }
  | { readonly format: 'q6_k'; readonly parts: Parts<'ql' | 'qh' | 'scales' | 'd'> }
  | {
    readonly format: 'lut'; readonly bits: LutBits; readonly group: LutGroup; readonly parts: Parts<'planes' | 'scales' | 'zeros'>;
    /** SINQ's per-input-column scale t [cols] (f32) of this linear, applied to a copy of its input (ops.inputColumnScale); absent for RTN. */
    readonly inputScale?: GpuTensor;
  }
);

export type WeightFormat = Weight['format'];

/**
 * CrossQuant activations for an integer-dot weight (methods.md §3, docs/quantization.md): the weight was stored as
 * W·diag(c^(1−α)) and its input is quantized by quantize_act_crossquant with the calibrated column absmax c. One per
 * input site, shared by the linears that read it; `zeroCount` accumulates (nonzero, zeroed) activations of that site.
 */
export interface CrossQuantInput {
  readonly colMax: GpuTensor;
  readonly alpha: number;
  readonly zeroCount: GpuTensor;
}

const QUANT_FORMATS: Readonly<Record<QuantTypeName, Exclude<WeightFormat, 'f32' | 'f16' | 'lut'>>> = {
  Q8_0: 'q8_0', Q4_0: 'q4_0', Q4_1: 'q4_1', Q5_0: 'q5_0', Q5_1: 'q5_1', Q4_K: 'q4_k', Q6_K: 'q6_k',
};

/** The GPU buffers a weight owns (for freeing and for memory accounting). */
export function weightTensors(w: Weight): GpuTensor[] {
  if ('data' in w) return [w.data];
  if ('crossQuant' in w && w.crossQuant) return [...Object.values(w.parts), w.crossQuant.colMax, w.crossQuant.zeroCount];
  return w.format === 'lut' && w.inputScale ? [...Object.values(w.parts), w.inputScale] : Object.values(w.parts);
}

/**
 * LUT conversion settings (methods.md §5): scale group along cols, and the code width; without `bits` each tensor
 * gets the width its stored type maps to exactly (lutBitsFor: Q8_0 → 8, Q4_0 → 4, others 8 by RTN).
 */
export interface LutOptions {
  readonly bits?: LutBits;
  readonly group: LutGroup;
}

/**
 * Converts one tensor's file bytes into its GPU layout and uploads it. With `lut`, a matrix whose cols are a
 * multiple of the group is converted to the LUT format instead (Q4_0 at 4 bits and Q8_0 at 8 bits, group 32, exactly;
 * others by RTN);
 * other widths keep their own format, since the LUT kernels need whole groups.
 */
export function uploadWeight(
  device: GPUDevice, name: string, typeName: 'F32' | 'F16' | QuantTypeName, bytes: Uint8Array, rows: number, cols: number, lut?: LutOptions,
): Weight {
  if (lut && cols % lut.group === 0) return uploadLutWeight(device, name, typeName, bytes, rows, cols, lut);
  switch (typeName) {
    case 'F32':
      return { format: 'f32', rows, cols, data: uploadTensor(device, name, [rows, cols], 'f32', decodeToF32('F32', bytes)) };
    case 'F16':
      return { format: 'f16', rows, cols, data: uploadTensor(device, name, [rows, cols], 'f16', tensorAsF16Bits(bytes)) };
    default: {
      const repacked = repack(typeName, bytes, rows * cols);
      const parts: Record<string, GpuTensor> = {};
      for (const [part, words] of Object.entries(repacked.parts)) {
        parts[part] = uploadTensor(device, `${name}.${part}`, [words.length], 'u32', words);
      }
      return { format: QUANT_FORMATS[typeName], rows, cols, parts } as Weight;
    }
  }
}

/** The LUT conversion of a stored matrix, uploaded as its three parts (all u32/f32 words, no repacking needed). */
export function uploadLutWeight(device: GPUDevice, name: string, typeName: 'F32' | 'F16' | QuantTypeName, bytes: Uint8Array, rows: number, cols: number, lut: LutOptions): Weight {
  const w = lutFromTensor(typeName, bytes, rows, cols, lut.bits, lut.group);
  const parts = {
    planes: uploadTensor(device, `${name}.planes`, [w.planes.length], 'u32', w.planes),
    scales: uploadTensor(device, `${name}.scales`, [w.scales.length], 'f32', w.scales),
    zeros: uploadTensor(device, `${name}.zeros`, [w.zeros.length], 'f32', w.zeros),
  };
  return { format: 'lut', rows, cols, bits: w.bits, group: w.group, parts };
}

/**
 * A group-quantized matrix (RTN / SINQ codes from a qgpu.quant file, @qgpu/quant) on the LUT kernels: converted
 * exactly (lutFromGroups), with SINQ's column scale t uploaded as its own tensor: every linear has its own t (the
 * paper's setting; forward.ts gives each a scaled copy of its input).
 */
export function uploadGroupWeight(device: GPUDevice, name: string, quant: GroupQuantized, colScale: Float32Array | undefined): Weight {
  const w = lutFromGroups(quant);
  const parts = {
    planes: uploadTensor(device, `${name}.planes`, [w.planes.length], 'u32', w.planes),
    scales: uploadTensor(device, `${name}.scales`, [w.scales.length], 'f32', w.scales),
    zeros: uploadTensor(device, `${name}.zeros`, [w.zeros.length], 'f32', w.zeros),
  };
  if (!colScale) return { format: 'lut', rows: w.rows, cols: w.cols, bits: w.bits, group: w.group, parts };
  const inputScale = uploadTensor(device, `${name}.col_scale`, [colScale.length], 'f32', Float32Array.from(colScale));
  return { format: 'lut', rows: w.rows, cols: w.cols, bits: w.bits, group: w.group, parts, inputScale };
}
