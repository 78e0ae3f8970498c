// lut_gemv_i8 — lut_gemv on int8-quantized tables (from lut_build_i8): per 32-column block b the lookups
// Σ_i 2^i Σ_G qT_G[idx_i] are summed exactly in i32 and scaled by the block's table scale d_b; per (row, group γ)
// y += s·(½ Σ_{b∈γ} d_b·(integer lookups) + ((2^BITS − 1)/2 − z)·Σ_{k∈γ} x_k), accumulated in f32
//
// Bindings (group 0)         Shape                        Type
//   params   uniform         —                            Params { rows, cols, group }
//   qtables  read            [n_tokens, cols/4, 2]        u32 (from lut_build_i8: int8 odd entries, 4 per word)
//   tscales  read            [n_tokens, cols/32]          f32 (from lut_build_i8: table scale per 32 columns)
//   sums     read            [n_tokens, cols/32]          f32 (from lut_build_i8: Σx per 32 columns)
//   planes   read            [rows, cols/32, BITS]        u32 (nibble n of plane word i: bit i of 4 codes)
//   scales   read            [rows, cols/group]           f32
//   zeros    read            [rows, cols/group]           f32
//   out      read_write      [n_tokens, rows]             act (laid out by the epilogue)
// Everything else (dispatch, staging, lane order, reduction) is lut_gemv's.
// Dispatch: one workgroup per (chunk of ROWS_PER_WG rows, token): chunk = x + y·(x-count), token = z. The token's
//   tables are staged into workgroup memory SLAB_COLS columns at a time; lanes take (group, row) items group-major,
//   so neighbouring lanes read the same 32-byte table (broadcast, methods.md §5.4), and each row's partial sums are
//   reduced over the workgroup at the end. cols and group are multiples of 32, group divides cols and SLAB_COLS.
// Overrides: WG_SIZE — power of two; BITS — 1..8 (8 holds Q8_0 exactly); ROWS_PER_WG — 1..MAX_ROWS (even for glu);
//   EPILOGUE, SPLIT_A, SPLIT_B — what is done with y (lib/body/epilogue.wgsl).
//! import "lib/body/epilogue.wgsl"
//! import "lib/reduce.wgsl"

override WG_SIZE: u32 = 64u;
override BITS: u32 = 4u;
override ROWS_PER_WG: u32 = 4u;

// Per-lane accumulators live in a fixed-size function array (WGSL only sizes workgroup arrays by overrides).
const MAX_ROWS = 8u;
// 1024 columns of int8 tables = 256 groups × 8 B = 2 KiB (a quarter of lut_gemv's f32 slab; kept equal for
// simplicity). A multiple of both group sizes (32, 64).
const SLAB_COLS = 1024u;

struct Params {
  rows: u32,
  cols: u32,
  group: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qtables: array<u32>;
@group(0) @binding(2) var<storage, read> tscales: array<f32>;
@group(0) @binding(3) var<storage, read> sums: array<f32>;
@group(0) @binding(4) var<storage, read> planes: array<u32>;
@group(0) @binding(5) var<storage, read> scales: array<f32>;
@group(0) @binding(6) var<storage, read> zeros: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<act>;

var<workgroup> slab_tables: array<u32, 512>; // SLAB_COLS / 4 · 2
var<workgroup> slab_tscales: array<f32, 32>; // SLAB_COLS / 32
var<workgroup> slab_sums: array<f32, 32>; // SLAB_COLS / 32

// qT[idx] of the staged LUT group `lut_group`: odd indices are stored (byte j of the group's 8), even ones are minus the
// mirror qT[15 − idx]; bytes are sign-extended by shifting them to the top and back.
fn entry(lut_group: u32, idx: u32) -> i32 {
  let odd = (idx & 1u) == 1u;
  let j = select(7u - (idx >> 1u), idx >> 1u, odd);
  let v = bitcast<i32>(slab_tables[2u * lut_group + (j >> 2u)] << (24u - 8u * (j & 3u))) >> 24u;
  return select(-v, v, odd);
}

// One (row, weight group) term. `local_block` is the group's first 32-column block within the slab, `row_block` the
// same block within the row.
fn group_term(row: u32, group_index: u32, local_block: u32, row_block: u32) -> f32 {
  let blocks_per_row = params.cols / 32u;
  var lookups = 0.0;
  var sum_x = 0.0;
  for (var b = 0u; b < params.group / 32u; b++) {
    sum_x += slab_sums[local_block + b];
    let word_base = (row * blocks_per_row + row_block + b) * BITS;
    // |Σ| ≤ 127 · 8 · (2^BITS − 1) < 2^18 for BITS ≤ 8: exact in i32.
    var ints = 0i;
    for (var i = 0u; i < BITS; i++) {
      let word = planes[word_base + i];
      var plane = 0i;
      for (var nib = 0u; nib < 8u; nib++) {
        plane += entry((local_block + b) * 8u + nib, (word >> (4u * nib)) & 15u);
      }
      ints += plane << i;
    }
    lookups += slab_tscales[local_block + b] * f32(ints);
  }
  let k = row * (params.cols / params.group) + group_index;
  // The offset/zero term once per group (methods.md §5.5: not per bit-plane).
  let offset = 0.5 * f32((1u << BITS) - 1u);
  return scales[k] * (0.5 * lookups + (offset - zeros[k]) * sum_x);
}

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let first_row = (wg.x + wg.y * groups.x) * ROWS_PER_WG;
  if (first_row >= params.rows) {
    return;
  }
  let token = wg.z;
  var acc: array<f32, MAX_ROWS>;
  for (var k0 = 0u; k0 < params.cols; k0 += SLAB_COLS) {
    let slab = min(SLAB_COLS, params.cols - k0);
    let table_base = (token * (params.cols / 4u) + k0 / 4u) * 2u;
    for (var e = lid; e < slab / 2u; e += WG_SIZE) {
      slab_tables[e] = qtables[table_base + e];
    }
    let sum_base = token * (params.cols / 32u) + k0 / 32u;
    for (var e = lid; e < slab / 32u; e += WG_SIZE) {
      slab_tscales[e] = tscales[sum_base + e];
      slab_sums[e] = sums[sum_base + e];
    }
    workgroupBarrier();
    let slab_groups = slab / params.group;
    for (var item = lid; item < slab_groups * ROWS_PER_WG; item += WG_SIZE) {
      let r = item % ROWS_PER_WG;
      let g = item / ROWS_PER_WG;
      let row = first_row + r;
      if (row < params.rows) {
        let local_block = g * (params.group / 32u);
        acc[r] += group_term(row, k0 / params.group + g, local_block, k0 / 32u + local_block);
      }
    }
    // The next slab overwrites the staged tables only after every lane is done with them.
    workgroupBarrier();
  }
  // One slot per row, or per gate/up row pair in glu mode (ROWS_PER_WG even there, so a pair never straddles two
  // workgroups); totals has a spare entry for the unused y1 of the last row.
  var totals: array<f32, MAX_ROWS + 1u>;
  for (var r = 0u; r < ROWS_PER_WG; r++) {
    totals[r] = workgroup_sum(lid, acc[r]);
  }
  if (lid == 0u) {
    let pair = epilogue_rows_per_slot();
    for (var r = 0u; r < ROWS_PER_WG; r += pair) {
      if (first_row + r < params.rows) {
        epilogue_store(params.rows, groups.z, token, (first_row + r) / pair, totals[r], totals[r + 1u]);
      }
    }
  }
}
