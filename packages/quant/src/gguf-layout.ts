// How qgpu stores a group-quantized (RTN / SINQ) linear in a GGUF file. GGUF has no block type for asymmetric codes of
// 2..8 bits with groups of 32/64/128 plus a per-column scale, so the matrix `NAME` (e.g. `blk.0.attn_q.weight`) is
// replaced by plain, spec-valid tensors of standard element types (docs/quantization.md):
//   NAME.qgpu_codes   I8   [ceil(rows·cols·bits/8)]   codes packed LSB first, row-major (packCodes)
//   NAME.qgpu_scales  F32  [cols/group, rows]         s per (row, group), GGUF dims innermost first
//   NAME.qgpu_zeros   F32  [cols/group, rows]         z per (row, group), in code units
//   NAME.qgpu_t       F32  [cols]                     SINQ's per-input-column scale (absent for RTN)
// with file metadata qgpu.quantization.{method, bits, group, symmetric}. Dequantized: W[r,c] = s·(q − z)·t[c].
import { FormatError, metaNumber, readTensorBytes, writeGguf, type GgufFile, type GgufWriteTensor, type GgufWriteValue } from '@qgpu/formats';
import { dequantizeGroups, packCodes, unpackCodes, type GroupQuantized, type QuantBits, type QuantGroup } from './groups.ts';

export const QGPU_QUANT_KEYS = {
  method: 'qgpu.quantization.method',
  bits: 'qgpu.quantization.bits',
  group: 'qgpu.quantization.group',
  symmetric: 'qgpu.quantization.symmetric',
} as const;

const SUFFIX = { codes: '.qgpu_codes', scales: '.qgpu_scales', zeros: '.qgpu_zeros', t: '.qgpu_t' } as const;
const I8_TYPE_ID = 24;
const F32_TYPE_ID = 0;

const f32Bytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** The GGUF tensors of one group-quantized matrix (and its column scale t, when SINQ made one). */
export function groupTensors(name: string, q: GroupQuantized, colScale?: Float32Array): GgufWriteTensor[] {
  const groups = q.cols / q.group;
  const codes = packCodes(q.codes, q.bits);
  const tensors: GgufWriteTensor[] = [
    { name: name + SUFFIX.codes, ne: [codes.length], typeId: I8_TYPE_ID, data: codes },
    { name: name + SUFFIX.scales, ne: [groups, q.rows], typeId: F32_TYPE_ID, data: f32Bytes(q.scales) },
    { name: name + SUFFIX.zeros, ne: [groups, q.rows], typeId: F32_TYPE_ID, data: f32Bytes(q.zeros) },
  ];
  if (colScale) tensors.push({ name: name + SUFFIX.t, ne: [q.cols], typeId: F32_TYPE_ID, data: f32Bytes(colScale) });
  return tensors;
}

/** Whether the file holds qgpu group-quantized linears (then it needs the loader below). */
export function hasGroupQuantization(file: GgufFile): boolean {
  return file.metadata.has(QGPU_QUANT_KEYS.bits);
}

/** Whether matrix `name` is stored group-quantized in `file`. */
export function isGroupQuantized(file: GgufFile, name: string): boolean {
  return file.tensors.some((t) => t.name === name + SUFFIX.codes);
}

/** The tensor infos that make up a group-quantized matrix (for byte accounting and shape checks). */
export function groupTensorInfos(file: GgufFile, name: string) {
  const find = (suffix: string) => file.tensors.find((t) => t.name === name + suffix);
  return { codes: find(SUFFIX.codes), scales: find(SUFFIX.scales), zeros: find(SUFFIX.zeros), t: find(SUFFIX.t) };
}

/** Reads a group-quantized matrix [rows, cols] back; checks every part against the expected shape. */
export async function readGroupQuantized(file: GgufFile, name: string, rows: number, cols: number): Promise<{ quant: GroupQuantized; colScale?: Float32Array }> {
  const fileName = file.source.name;
  const bits = metaNumber(file, QGPU_QUANT_KEYS.bits) as QuantBits;
  const group = metaNumber(file, QGPU_QUANT_KEYS.group) as QuantGroup;
  const info = groupTensorInfos(file, name);
  const fail = (what: string): never => { throw new FormatError(`${fileName}: group-quantized '${name}': ${what}`); };
  if (!info.codes || !info.scales || !info.zeros) return fail('missing codes, scales or zeros');
  if (cols % group !== 0) fail(`width ${cols} is not a multiple of the group ${group}`);
  const groups = cols / group;
  const codeBytes = Math.ceil((rows * cols * bits) / 8);
  if (info.codes.typeName !== 'I8' || info.codes.elementCount !== codeBytes) fail(`codes must be I8 [${codeBytes}]`);
  for (const part of [info.scales, info.zeros]) {
    if (part.typeName !== 'F32' || part.ne[0] !== groups || part.ne[1] !== rows) fail(`'${part.name}' must be F32 [${groups}, ${rows}]`);
  }
  if (info.t && (info.t.typeName !== 'F32' || info.t.elementCount !== cols)) fail(`t must be F32 [${cols}]`);
  const f32 = async (t: NonNullable<typeof info.scales>) => new Float32Array((await readTensorBytes(file, t)).slice().buffer);
  const quant: GroupQuantized = {
    rows, cols, bits, group,
    codes: unpackCodes(await readTensorBytes(file, info.codes), bits, rows * cols),
    scales: await f32(info.scales),
    zeros: await f32(info.zeros),
  };
  return info.t ? { quant, colScale: await f32(info.t) } : { quant };
}

/**
 * The same model with every group-quantized matrix replaced by its f32 dequantization s·(q − z)·t (t folded into the
 * columns), as an in-memory GGUF that any loader reads (the CPU reference uses it to score quantized models).
 */
export async function dequantizedGguf(file: GgufFile, metadata: Record<string, GgufWriteValue>): Promise<Uint8Array> {
  const tensors: GgufWriteTensor[] = [];
  const parts = /\.qgpu_(codes|scales|zeros|t)$/;
  for (const t of file.tensors) {
    if (!parts.test(t.name)) {
      tensors.push({ name: t.name, ne: [...t.ne], typeId: t.typeId, data: await readTensorBytes(file, t) });
    } else if (t.name.endsWith(SUFFIX.scales)) {
      const name = t.name.slice(0, -SUFFIX.scales.length);
      const [groups, rows] = t.ne as [number, number];
      const cols = groups * metaNumber(file, QGPU_QUANT_KEYS.group);
      const { quant, colScale } = await readGroupQuantized(file, name, rows, cols);
      tensors.push({ name, ne: [cols, rows], typeId: F32_TYPE_ID, data: f32Bytes(dequantizeGroups(quant, colScale)) });
    }
  }
  const plain = Object.fromEntries(Object.entries(metadata).filter(([k]) => !k.startsWith('qgpu.quantization.')));
  return writeGguf(plain, tensors);
}
