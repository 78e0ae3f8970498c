// A one-node ONNX model, Y[1, N] = A[1, K] · dequant(B)ᵀ with com.microsoft MatMulNBits (4-bit, block 32, no zero
// points, i.e. the implicit zero point 8 — Q4_0's layout), written as protobuf bytes by hand so the benchmark needs no
// ONNX tooling and downloads nothing. Field numbers from onnx/onnx.proto3 (ModelProto, GraphProto, NodeProto,
// AttributeProto, TensorProto, ValueInfoProto, TypeProto, TensorShapeProto) and the MatMulNBits contrib-op schema
// (onnxruntime/core/graph/contrib_ops/contrib_defs.cc: inputs A, B uint8 [N, K/block, block·bits/8], scales
// [N · K/block]; attributes K, N, bits, block_size).

/** Protobuf wire writer: varints, length-delimited fields, nested messages. */
class Proto {
  private readonly bytes: number[] = [];

  private varint(value: number | bigint): void {
    let v = BigInt(value);
    if (v < 0n) v += 1n << 64n;
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.bytes.push(byte);
    } while (v !== 0n);
  }

  int(field: number, value: number | bigint): this {
    this.varint((field << 3) | 0);
    this.varint(value);
    return this;
  }

  raw(field: number, data: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }

  string(field: number, text: string): this {
    return this.raw(field, new TextEncoder().encode(text));
  }

  message(field: number, inner: Proto): this {
    return this.raw(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const FLOAT = 1;
const UINT8 = 2;
const ATTRIBUTE_INT = 2;

function valueInfo(name: string, elemType: number, dims: readonly number[]): Proto {
  const shape = new Proto();
  for (const d of dims) shape.message(1, new Proto().int(1, d));
  const tensorType = new Proto().int(1, elemType).message(2, shape);
  return new Proto().string(1, name).message(2, new Proto().message(1, tensorType));
}

function tensor(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): Proto {
  const t = new Proto();
  for (const d of dims) t.int(1, d);
  return t.int(2, dataType).string(8, name).raw(9, raw);
}

const intAttribute = (name: string, value: number) => new Proto().string(1, name).int(3, value).int(20, ATTRIBUTE_INT);

/**
 * The model bytes for an N × K weight (rows × cols, as qgpu's matmul shapes). `nibbles` holds N · K/2 bytes of
 * 4-bit codes (element 2j in the low nibble, 2j+1 in the high one) and `scales` N · K/32 floats.
 */
export function matMulNBitsModel(rows: number, cols: number, nibbles: Uint8Array, scales: Float32Array): Uint8Array {
  const block = 32;
  if (cols % block !== 0) throw new Error(`MatMulNBits needs K (${cols}) to be a multiple of ${block}`);
  const blocksPerRow = cols / block;
  if (nibbles.length !== (rows * cols) / 2) throw new Error(`expected ${(rows * cols) / 2} code bytes, got ${nibbles.length}`);
  if (scales.length !== rows * blocksPerRow) throw new Error(`expected ${rows * blocksPerRow} scales, got ${scales.length}`);
  const node = new Proto()
    .string(1, 'A').string(1, 'B').string(1, 'scales')
    .string(2, 'Y')
    .string(3, 'matmul_nbits')
    .string(4, 'MatMulNBits')
    .message(5, intAttribute('K', cols))
    .message(5, intAttribute('N', rows))
    .message(5, intAttribute('bits', 4))
    .message(5, intAttribute('block_size', block))
    .string(7, 'com.microsoft');
  const graph = new Proto()
    .message(1, node)
    .string(2, 'gemv')
    .message(5, tensor('B', UINT8, [rows, blocksPerRow, block / 2], nibbles))
    .message(5, tensor('scales', FLOAT, [rows * blocksPerRow], new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength)))
    .message(11, valueInfo('A', FLOAT, [1, cols]))
    .message(12, valueInfo('Y', FLOAT, [1, rows]));
  return new Proto()
    .int(1, 8) // ir_version 8
    .string(2, 'qgpu-bench')
    .message(8, new Proto().string(1, '').int(2, 17))
    .message(8, new Proto().string(1, 'com.microsoft').int(2, 1))
    .message(7, graph)
    .finish();
}
