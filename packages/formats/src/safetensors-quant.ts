// The qgpu quantization convention for safetensors (documented in docs/formats.md): models quantized with methods
// that have no standard GGUF type (SINQ with its column scale, RTN at widths or groups GGUF lacks) are written as
// safetensors whose `__metadata__` says how, and whose quantized linears are stored as three or four tensors.
import { FormatError, printable } from './byte-source.ts';
import type { SafetensorsFile, SafetensorsTensorInfo } from './safetensors.ts';

/** `__metadata__` keys. All values are strings, as safetensors requires. */
export const QUANT_KEYS = {
  /** Convention version: "1". Its presence marks the file as qgpu-quantized. */
  version: 'qgpu.quant.version',
  /** 'rtn' | 'sinq' | 'presinq' (informational; the tensors below fully define the weights). */
  method: 'qgpu.quant.method',
  /** Code width in bits, 2..8. */
  bits: 'qgpu.quant.bits',
  /** Elements per scale group along the input dimension (32, 64 or 128). */
  group: 'qgpu.quant.group',
  /** 'true' for symmetric codes (no zeros tensor): w = scale · (code − 2^(bits−1)). */
  symmetric: 'qgpu.quant.symmetric',
} as const;

/** Suffixes of a quantized linear `<base>.weight`'s tensors (the `.weight` itself is absent). */
export const QUANT_SUFFIXES = {
  /** U8 [rows, ceil(cols · bits / 8)]: codes of each row packed little-endian, LSB first, rows byte-aligned. */
  codes: '.qweight',
  /** F32 or F16 [rows, cols / group]: the group scale s. */
  scales: '.scales',
  /** F32 or F16 [rows, cols / group]: the zero point z (a float holding an integer); absent when symmetric. */
  zeros: '.zeros',
  /** F32 [cols]: SINQ's per-input-column scale t, applied to the activation (x' = x ⊙ t); absent for RTN. */
  colScale: '.col_scale',
} as const;

export interface QuantHeader {
  readonly method: string;
  readonly bits: number;
  readonly group: number;
  readonly symmetric: boolean;
}

/** The file's quantization header, or undefined for an ordinary (unquantized) safetensors file. */
export function readQuantHeader(file: SafetensorsFile): QuantHeader | undefined {
  const m = file.metadata;
  const version = m.get(QUANT_KEYS.version);
  if (version === undefined) return undefined;
  const name = file.source.name;
  if (version !== '1') throw new FormatError(`${name}: unsupported ${QUANT_KEYS.version} ${printable(version)} (this reader knows 1)`, 'unsupported_version');
  const int = (key: string, allowed: readonly number[]): number => {
    const v = Number(m.get(key));
    if (!allowed.includes(v)) throw new FormatError(`${name}: ${key} ${printable(String(m.get(key)))} is not one of ${allowed.join(', ')}`, 'bad_metadata');
    return v;
  };
  return {
    method: m.get(QUANT_KEYS.method) ?? 'unknown',
    bits: int(QUANT_KEYS.bits, [2, 3, 4, 5, 6, 7, 8]),
    group: int(QUANT_KEYS.group, [32, 64, 128]),
    symmetric: m.get(QUANT_KEYS.symmetric) === 'true',
  };
}

/** Bytes per packed row of `cols` codes of `bits` bits. */
export const packedRowBytes = (cols: number, bits: number): number => Math.ceil((cols * bits) / 8);

/** Packs integer codes [rows, cols] (each in 0..2^bits−1) row by row, LSB first; rows start on a byte boundary. */
export function packCodes(codes: ArrayLike<number>, rows: number, cols: number, bits: number): Uint8Array {
  const rowBytes = packedRowBytes(cols, bits);
  const out = new Uint8Array(rows * rowBytes);
  const max = (1 << bits) - 1;
  for (let r = 0; r < rows; r++) {
    let bit = r * rowBytes * 8;
    for (let c = 0; c < cols; c++, bit += bits) {
      const q = codes[r * cols + c]!;
      if (!Number.isInteger(q) || q < 0 || q > max) throw new RangeError(`packCodes: code ${q} at [${r}, ${c}] is outside 0..${max}`);
      for (let b = 0; b < bits; b++) if ((q >> b) & 1) out[(bit + b) >> 3]! |= 1 << ((bit + b) & 7);
    }
  }
  return out;
}

/** Inverse of {@link packCodes}. */
export function unpackCodes(packed: Uint8Array, rows: number, cols: number, bits: number): Uint8Array {
  const rowBytes = packedRowBytes(cols, bits);
  if (packed.byteLength !== rows * rowBytes) throw new FormatError(`unpackCodes: ${packed.byteLength} bytes, expected ${rows * rowBytes} for [${rows}, ${cols}] at ${bits} bits`, 'bad_tensor');
  const out = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let bit = r * rowBytes * 8;
    for (let c = 0; c < cols; c++, bit += bits) {
      let q = 0;
      for (let b = 0; b < bits; b++) q |= ((packed[(bit + b) >> 3]! >> ((bit + b) & 7)) & 1) << b;
      out[r * cols + c] = q;
    }
  }
  return out;
}

/** The tensors of one quantized linear, checked against each other and the header. */
export interface QuantizedLinearInfo {
  readonly rows: number;
  readonly cols: number;
  readonly codes: SafetensorsTensorInfo;
  readonly scales: SafetensorsTensorInfo;
  readonly zeros?: SafetensorsTensorInfo;
  readonly colScale?: SafetensorsTensorInfo;
}

/**
 * Finds the quantized tensors of linear `<base>.weight` (pass the base, e.g. `model.layers.0.mlp.up_proj`), or
 * undefined when the file stores that linear unquantized. Throws a FormatError naming the tensor on any mismatch.
 */
export function findQuantizedLinear(file: SafetensorsFile, header: QuantHeader, base: string): QuantizedLinearInfo | undefined {
  const byName = (suffix: string) => file.tensors.find((t) => t.name === base + suffix);
  const codes = byName(QUANT_SUFFIXES.codes);
  if (!codes) return undefined;
  const name = file.source.name;
  const fail = (message: string): never => {
    throw new FormatError(`${name}: quantized tensor ${printable(base)}: ${message}`, 'bad_tensor');
  };
  const scales = byName(QUANT_SUFFIXES.scales) ?? fail(`missing '${base}${QUANT_SUFFIXES.scales}'`);
  const zeros = byName(QUANT_SUFFIXES.zeros);
  const colScale = byName(QUANT_SUFFIXES.colScale);
  if (!header.symmetric && !zeros) fail(`missing '${base}${QUANT_SUFFIXES.zeros}' (the header says asymmetric)`);
  if (codes.dtype !== 'U8' || codes.shape.length !== 2) fail(`codes must be U8 [rows, bytes], got ${codes.dtype} [${codes.shape}]`);
  if ((scales.dtype !== 'F32' && scales.dtype !== 'F16') || scales.shape.length !== 2) fail(`scales must be F32/F16 [rows, groups], got ${scales.dtype} [${scales.shape}]`);
  const [rows, groups] = scales.shape as [number, number];
  const cols = groups * header.group;
  if (codes.shape[0] !== rows || codes.shape[1] !== packedRowBytes(cols, header.bits)) {
    fail(`codes shape [${codes.shape}] does not match [${rows}, ${packedRowBytes(cols, header.bits)}] for ${cols} columns at ${header.bits} bits`);
  }
  if (zeros && (zeros.dtype !== scales.dtype || zeros.shape.join() !== scales.shape.join())) fail(`zeros ${zeros.dtype} [${zeros.shape}] do not match scales ${scales.dtype} [${scales.shape}]`);
  if (colScale && (colScale.dtype !== 'F32' || colScale.shape.length !== 1 || colScale.shape[0] !== cols)) fail(`col_scale must be F32 [${cols}], got ${colScale.dtype} [${colScale.shape}]`);
  return { rows, cols, codes, scales, ...(zeros ? { zeros } : {}), ...(colScale ? { colScale } : {}) };
}
