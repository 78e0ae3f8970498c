// CPU twins of the LUT (T-MAC, methods.md §5) path: the per-token table build and the bit-serial GEMV over the
// bit-plane weights of @qgpu/formats' LUT format. They follow the kernels' arithmetic (f32 tables, per-32 sums, the
// same decomposition of the product), in double where the kernel accumulates, so GPU and twin differ only by f32
// rounding and summation order.
//
// Math (methods.md §5.1): q = Σ_i 2^i β_i with β_i ∈ {0,1}; σ_i = 2β_i − 1 ∈ {−1,+1} gives
//   Σ_k q_k x_k = ½ Σ_i 2^i Σ_G T_G[idx_{G,i}] + ½(2^b − 1) Σ_k x_k,
// where T_G[idx] = Σ_e (bit e of idx ? +x_{4G+e} : −x_{4G+e}). With w = s·(q − z) per weight group γ:
//   Σ_{k∈γ} w_k x_k = s·( ½ Σ_i 2^i Σ_{G∈γ} T_G[idx] + ((2^b − 1)/2 − z)·Σ_{k∈γ} x_k ).
// The Σx term is applied once per (row, group), never per bit-plane (methods.md §5.5).

/** Tables for n tokens, in the GPU layout of shaders/kernels/lut/lut_build.wgsl. */
export interface LutTables {
  /**
   * [n, cols/4, 8] f32: entry j of LUT group G is T_G[2j + 1] (the odd indices; methods.md §5.1 mirror
   * consolidation). The even ones are T[idx] = −T[15 − idx], and 15 − idx is odd.
   */
  readonly tables: Float32Array<ArrayBuffer>;
  /** [n, cols/32] f32: Σx over each 32-column block, the zero-point / offset term's input. */
  readonly sums: Float32Array<ArrayBuffer>;
}

// The build adds in f32 in the kernel's order, so its twin is exact wherever the driver does not reassociate.
const f = Math.fround;

/** T[idx] from the 8 stored odd entries of one LUT group starting at `base`. */
export function lutEntry(tables: ArrayLike<number>, base: number, idx: number): number {
  return (idx & 1) === 1 ? tables[base + (idx >> 1)]! : -tables[base + 7 - (idx >> 1)]!;
}

/**
 * Tables for activations x [n, cols] (cols a multiple of 32). Entry j = x0 + (j&1 ? x1 : −x1) + (j&2 ? x2 : −x2) +
 * (j&4 ? x3 : −x3): index 2j + 1 has bit 0 set (+x0), and bit e of the index (e ≥ 1) is bit e − 1 of j.
 */
export function lutBuild(x: Float32Array, cols: number): LutTables {
  if (cols % 32 !== 0 || x.length % cols !== 0) throw new RangeError(`lutBuild: ${x.length} values, cols ${cols} (multiple of 32)`);
  const n = x.length / cols;
  const tables = new Float32Array(n * (cols / 4) * 8);
  const sums = new Float32Array(n * (cols / 32));
  for (let g = 0; g < n * (cols / 4); g++) {
    const [x0, x1, x2, x3] = [x[4 * g]!, x[4 * g + 1]!, x[4 * g + 2]!, x[4 * g + 3]!];
    for (let j = 0; j < 8; j++) {
      tables[8 * g + j] = f(f(f(x0 + (j & 1 ? x1 : -x1)) + (j & 2 ? x2 : -x2)) + (j & 4 ? x3 : -x3));
    }
  }
  for (let b = 0; b < sums.length; b++) {
    let s = 0;
    for (let e = 0; e < 32; e++) s = f(s + x[32 * b + e]!);
    sums[b] = s;
  }
  return { tables, sums };
}

/**
 * y [n, rows] = W·x through the tables: per (row, group) the bit-serial sum Σ_i 2^i Σ_G T_G[idx_i] with the scale
 * and zero correction of the file header. `planes`, `scales`, `zeros` are @qgpu/formats' LutWeights fields.
 */
export function lutGemv(
  planes: Uint32Array, scales: Float32Array, zeros: Float32Array, t: LutTables,
  rows: number, cols: number, bits: number, group: number,
): Float32Array<ArrayBuffer> {
  const blocksPerRow = cols / 32;
  const groupsPerRow = cols / group;
  const n = t.sums.length / blocksPerRow;
  if (!Number.isInteger(n) || t.tables.length !== n * (cols / 4) * 8) throw new RangeError('lutGemv: tables do not match cols');
  if (planes.length !== rows * blocksPerRow * bits || scales.length !== rows * groupsPerRow) throw new RangeError('lutGemv: weights do not match shape');
  const offset = ((1 << bits) - 1) / 2;
  const y = new Float32Array(n * rows);
  for (let tok = 0; tok < n; tok++) {
    for (let r = 0; r < rows; r++) {
      let total = 0;
      for (let g = 0; g < groupsPerRow; g++) {
        let lookups = 0;
        let sumX = 0;
        for (let blk = (g * group) / 32; blk < ((g + 1) * group) / 32; blk++) {
          sumX += t.sums[tok * blocksPerRow + blk]!;
          for (let i = 0; i < bits; i++) {
            const word = planes[(r * blocksPerRow + blk) * bits + i]!;
            let plane = 0;
            for (let nib = 0; nib < 8; nib++) {
              plane += lutEntry(t.tables, (tok * (cols / 4) + 8 * blk + nib) * 8, (word >>> (4 * nib)) & 15);
            }
            lookups += 2 ** i * plane;
          }
        }
        const k = r * groupsPerRow + g;
        total += scales[k]! * (0.5 * lookups + (offset - zeros[k]!) * sumX);
      }
      y[tok * rows + r] = total;
    }
  }
  return y;
}

/**
 * int8-quantized tables (methods.md §5.1 "table quantization"), in the layout of lut_build_i8.wgsl. One scale per
 * 32-column block (8 LUT groups) instead of T-MAC's 64, so any cols that is a multiple of 32 works and the scale
 * shares the block of the Σx term; finer blocks only lower the rounding error.
 */
export interface LutTablesI8 {
  /** [n, cols/4, 2] u32: entry j (= T[2j + 1] / scale, rounded half to even, clamped to ±127) in byte j % 4 of word j / 4. */
  readonly qtables: Uint32Array<ArrayBuffer>;
  /** [n, cols/32] f32: max_G Σ|x_{4G..4G+3}| / 127 over the block's 8 groups (0 for an all-zero block). */
  readonly scales: Float32Array<ArrayBuffer>;
  /** [n, cols/32] f32: Σx per block, kept in float as T-MAC's lut_bias. */
  readonly sums: Float32Array<ArrayBuffer>;
}

/** Round half to even, as WGSL `round`. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Signed int8 entry j of LUT group g from the packed words. */
export function lutEntryI8(qtables: Uint32Array, g: number, j: number): number {
  return ((qtables[2 * g + (j >> 2)]! >>> (8 * (j & 3))) << 24) >> 24;
}

/**
 * Quantizes f32 tables (from lutBuild) per 32-column block, in f32 as the kernel does: scale = f32(max|T| / 127) —
 * max|T| over a group's entries is its Σ|x| — and code = round(f32(T / scale)).
 */
export function lutQuantizeTables(t: LutTables): LutTablesI8 {
  const blocks = t.sums.length;
  const qtables = new Uint32Array(blocks * 16);
  const scales = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let e = 0; e < 64; e++) amax = Math.max(amax, Math.abs(t.tables[64 * b + e]!));
    const scale = f(amax / 127);
    scales[b] = scale;
    for (let e = 0; e < 64; e++) {
      const q = scale === 0 ? 0 : Math.max(-127, Math.min(127, roundHalfEven(f(t.tables[64 * b + e]! / scale))));
      qtables[16 * b + (e >> 2)]! |= (q & 0xff) << (8 * (e & 3));
    }
  }
  return { qtables, scales, sums: t.sums.slice() };
}

/**
 * lutGemv on int8 tables: per (row, group) the integer lookups Σ_i 2^i Σ_G qT_G[idx_i] of each 32-column block are
 * exact, then scaled by the block's table scale; the Σx term is unchanged (float).
 */
export function lutGemvI8(
  planes: Uint32Array, scales: Float32Array, zeros: Float32Array, t: LutTablesI8,
  rows: number, cols: number, bits: number, group: number,
): Float32Array<ArrayBuffer> {
  const blocksPerRow = cols / 32;
  const groupsPerRow = cols / group;
  const n = t.sums.length / blocksPerRow;
  if (!Number.isInteger(n) || t.qtables.length !== n * blocksPerRow * 16) throw new RangeError('lutGemvI8: tables do not match cols');
  const offset = ((1 << bits) - 1) / 2;
  const y = new Float32Array(n * rows);
  for (let tok = 0; tok < n; tok++) {
    for (let r = 0; r < rows; r++) {
      let total = 0;
      for (let g = 0; g < groupsPerRow; g++) {
        let lookups = 0;
        let sumX = 0;
        for (let blk = (g * group) / 32; blk < ((g + 1) * group) / 32; blk++) {
          const tb = tok * blocksPerRow + blk;
          sumX += t.sums[tb]!;
          let ints = 0;
          for (let i = 0; i < bits; i++) {
            const word = planes[(r * blocksPerRow + blk) * bits + i]!;
            for (let nib = 0; nib < 8; nib++) {
              const idx = (word >>> (4 * nib)) & 15;
              const odd = (idx & 1) === 1;
              const q = lutEntryI8(t.qtables, 8 * tb + nib, odd ? idx >> 1 : 7 - (idx >> 1));
              ints += 2 ** i * (odd ? q : -q);
            }
          }
          lookups += t.scales[tb]! * ints;
        }
        const k = r * groupsPerRow + g;
        total += scales[k]! * (0.5 * lookups + (offset - zeros[k]!) * sumX);
      }
      y[tok * rows + r] = total;
    }
  }
  return y;
}
