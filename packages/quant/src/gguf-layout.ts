// How qgpu stores a group-quantized (RTN / SINQ) linear in a GGUF file: the qgpu quantization convention of
// @qgpu/formats safetensors-quant.ts (docs/formats.md), carried over to GGUF so both containers hold the same tensors.
// GGUF has no block type for asymmetric 2..8-bit codes with groups of 32/64/128 plus a per-column scale, so the matrix
// `BASE.weight` (e.g. `blk.0.attn_q.weight`) is absent and replaced by spec-valid tensors of standard element types:
//   BASE.qweight    I8   ne [ceil(cols·bits/8), rows]  codes of each row packed LSB first, rows byte-aligned (packCodes)
//   BASE.scales     F32  ne [cols/group, rows]         s per (row, group)
//   BASE.zeros      F32  ne [cols/group, rows]         z per (row, group), in code units (absent when symmetric)
//   BASE.col_scale  F32  ne [cols]                     SINQ's per-input-column scale t (absent for RTN)
// (GGUF lists dims innermost first, so these are the safetensors shapes reversed), and typed metadata
// qgpu.quant.{version u32 = 1, method string, bits u32, group u32, symmetric bool}.
// Dequantized: W[r, c] = s·(q − z)·t[c], with z = 2^(bits−1) when symmetric.
import {
  FormatError, metaNumber, packCodes, packedRowBytes, QUANT_KEYS, QUANT_SUFFIXES, readTensorBytes, unpackCodes, writeGguf,
  type GgufFile, type GgufTensorInfo, type GgufWriteTensor, type GgufWriteValue,
} from '@qgpu/formats';
import { dequantizeGroups, type GroupQuantized, type QuantBits, type QuantGroup } from './groups.ts';

const I8_TYPE_ID = 24;
const F32_TYPE_ID = 0;

const f32Bytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** `blk.0.attn_q.weight` → `blk.0.attn_q`. */
export function baseOf(weightName: string): string {
  if (!weightName.endsWith('.weight')) throw new RangeError(`'${weightName}' is not a .weight tensor`);
  return weightName.slice(0, -'.weight'.length);
}

/** The GGUF tensors of one group-quantized matrix `name` (and its column scale t, when SINQ made one). */
export function groupTensors(name: string, q: GroupQuantized, symmetric: boolean, colScale?: Float32Array): GgufWriteTensor[] {
  const base = baseOf(name);
  const groups = q.cols / q.group;
  const codes = packCodes(q.codes, q.rows, q.cols, q.bits);
  const tensors: GgufWriteTensor[] = [
    { name: base + QUANT_SUFFIXES.codes, ne: [packedRowBytes(q.cols, q.bits), q.rows], typeId: I8_TYPE_ID, data: codes },
    { name: base + QUANT_SUFFIXES.scales, ne: [groups, q.rows], typeId: F32_TYPE_ID, data: f32Bytes(q.scales) },
  ];
  if (!symmetric) tensors.push({ name: base + QUANT_SUFFIXES.zeros, ne: [groups, q.rows], typeId: F32_TYPE_ID, data: f32Bytes(q.zeros) });
  if (colScale) tensors.push({ name: base + QUANT_SUFFIXES.colScale, ne: [q.cols], typeId: F32_TYPE_ID, data: f32Bytes(colScale) });
  return tensors;
}

/** The typed GGUF metadata entries of the convention. */
export function quantMetadata(method: string, bits: number, group: number, symmetric: boolean): Record<string, GgufWriteValue> {
  return {
    [QUANT_KEYS.version]: { type: 'u32', value: 1 },
    [QUANT_KEYS.method]: { type: 'string', value: method },
    [QUANT_KEYS.bits]: { type: 'u32', value: bits },
    [QUANT_KEYS.group]: { type: 'u32', value: group },
    [QUANT_KEYS.symmetric]: { type: 'bool', value: symmetric },
  };
}

/** Whether the GGUF file holds qgpu group-quantized linears. */
export function hasGroupQuantization(file: GgufFile): boolean {
  return file.metadata.has(QUANT_KEYS.version);
}

/** The tensor infos that make up group-quantized matrix `name` (`codes` undefined when it is stored plainly). */
export function groupTensorInfos(file: GgufFile, name: string): { codes?: GgufTensorInfo; scales?: GgufTensorInfo; zeros?: GgufTensorInfo; colScale?: GgufTensorInfo } {
  const base = name.endsWith('.weight') ? baseOf(name) : name;
  const find = (suffix: string) => file.tensors.find((t) => t.name === base + suffix);
  const parts = { codes: find(QUANT_SUFFIXES.codes), scales: find(QUANT_SUFFIXES.scales), zeros: find(QUANT_SUFFIXES.zeros), colScale: find(QUANT_SUFFIXES.colScale) };
  return Object.fromEntries(Object.entries(parts).filter(([, v]) => v !== undefined));
}

/** Whether matrix `name` (`….weight`) is stored group-quantized in `file`. */
export function isGroupQuantized(file: GgufFile, name: string): boolean {
  return hasGroupQuantization(file) && groupTensorInfos(file, name).codes !== undefined;
}

/** Reads group-quantized matrix `name` [rows, cols] back; checks every part against the expected shape. */
export async function readGroupQuantized(file: GgufFile, name: string, rows: number, cols: number): Promise<{ quant: GroupQuantized; colScale?: Float32Array }> {
  const fileName = file.source.name;
  const bits = metaNumber(file, QUANT_KEYS.bits) as QuantBits;
  const group = metaNumber(file, QUANT_KEYS.group) as QuantGroup;
  const symmetric = file.metadata.get(QUANT_KEYS.symmetric) === true;
  const info = groupTensorInfos(file, name);
  const fail = (what: string): never => { throw new FormatError(`${fileName}: group-quantized '${name}': ${what}`); };
  if (!info.codes || !info.scales) return fail('missing qweight or scales');
  if (!symmetric && !info.zeros) fail('missing zeros (the header says asymmetric)');
  if (cols % group !== 0) fail(`width ${cols} is not a multiple of the group ${group}`);
  const groups = cols / group;
  const rowBytes = packedRowBytes(cols, bits);
  if (info.codes.typeName !== 'I8' || info.codes.ne[0] !== rowBytes || info.codes.ne[1] !== rows) fail(`qweight must be I8 [${rowBytes}, ${rows}]`);
  for (const part of [info.scales, info.zeros]) {
    if (part && (part.typeName !== 'F32' || part.ne[0] !== groups || part.ne[1] !== rows)) fail(`'${part.name}' must be F32 [${groups}, ${rows}]`);
  }
  if (info.colScale && (info.colScale.typeName !== 'F32' || info.colScale.elementCount !== cols)) fail(`col_scale must be F32 [${cols}]`);
  const f32 = async (t: GgufTensorInfo) => new Float32Array((await readTensorBytes(file, t)).slice().buffer);
  const quant: GroupQuantized = {
    rows, cols, bits, group,
    codes: Uint8Array.from(unpackCodes(await readTensorBytes(file, info.codes), rows, cols, bits)),
    scales: await f32(info.scales),
    zeros: info.zeros ? await f32(info.zeros) : new Float32Array(rows * groups).fill(1 << (bits - 1)),
  };
  return info.colScale ? { quant, colScale: await f32(info.colScale) } : { quant };
}

/**
 * The same model with every group-quantized matrix replaced by its f32 dequantization s·(q − z)·t (t folded into the
 * columns), as an in-memory GGUF that any loader reads (the CPU reference uses it to score quantized models).
 */
export async function dequantizedGguf(file: GgufFile, metadata: Record<string, GgufWriteValue>): Promise<Uint8Array> {
  const tensors: GgufWriteTensor[] = [];
  const suffixes = Object.values(QUANT_SUFFIXES) as string[];
  for (const t of file.tensors) {
    const suffix = suffixes.find((s) => t.name.endsWith(s));
    if (suffix === undefined) {
      tensors.push({ name: t.name, ne: [...t.ne], typeId: t.typeId, data: await readTensorBytes(file, t) });
    } else if (suffix === QUANT_SUFFIXES.scales) {
      const name = t.name.slice(0, -suffix.length) + '.weight';
      const [groups, rows] = t.ne as [number, number];
      const cols = groups * metaNumber(file, QUANT_KEYS.group);
      const { quant, colScale } = await readGroupQuantized(file, name, rows, cols);
      tensors.push({ name, ne: [cols, rows], typeId: F32_TYPE_ID, data: f32Bytes(dequantizeGroups(quant, colScale)) });
    }
  }
  const plain = Object.fromEntries(Object.entries(metadata).filter(([k]) => !k.startsWith('qgpu.quant.')));
  return writeGguf(plain, tensors);
}
