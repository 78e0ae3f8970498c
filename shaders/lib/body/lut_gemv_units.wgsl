// The LUT GEMV body shared by lut_gemv and lut_gemv_sg (see lut_gemv.wgsl's header for the scheme): table staging
// per slab, the (group, row) items and the per-row workgroup sums. The importing kernel declares `params { rows,
// cols, group }`, `tables`, `sums`, `planes`, `scales`, `zeros`, `out`, the overrides WG_SIZE, BITS and ROWS_PER_WG,
// and imports the workgroup_sum it reduces with: lib/reduce.wgsl, or lib/reduce_subgroup.wgsl in lut_gemv_sg. The
// per-row sums are written through lib/body/epilogue.wgsl (n_tokens = z-count).
//! import "lib/body/epilogue.wgsl"

// Per-lane accumulators live in a fixed-size function array (WGSL only sizes workgroup arrays by overrides).
const MAX_ROWS = 8u;
// 1024 columns of tables = 256 groups × 8 f32 = 8 KiB, half the default 16 KiB workgroup storage (methods.md §1),
// leaving room for the sums and the reduction scratch. A multiple of both group sizes (32, 64).
const SLAB_COLS = 1024u;

var<workgroup> slab_tables: array<f32, 2048>; // SLAB_COLS / 4 · 8
var<workgroup> slab_sums: array<f32, 32>; // SLAB_COLS / 32

// T[idx] of the staged LUT group at `base`: odd indices are stored, even ones are minus the mirror T[15 − idx].
fn entry(base: u32, idx: u32) -> f32 {
  let odd = (idx & 1u) == 1u;
  let v = slab_tables[base + select(7u - (idx >> 1u), idx >> 1u, odd)];
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
    for (var i = 0u; i < BITS; i++) {
      let word = planes[word_base + i];
      var plane = 0.0;
      for (var nib = 0u; nib < 8u; nib++) {
        plane += entry(((local_block + b) * 8u + nib) * 8u, (word >> (4u * nib)) & 15u);
      }
      lookups += f32(1u << i) * plane;
    }
  }
  let k = row * (params.cols / params.group) + group_index;
  // The offset/zero term once per group (methods.md §5.5: not per bit-plane).
  let offset = 0.5 * f32((1u << BITS) - 1u);
  return scales[k] * (0.5 * lookups + (offset - zeros[k]) * sum_x);
}

fn lut_gemv_rows(wg: vec3u, groups: vec3u, lid: u32) {
  let first_row = (wg.x + wg.y * groups.x) * ROWS_PER_WG;
  if (first_row >= params.rows) {
    return;
  }
  let token = wg.z;
  var acc: array<f32, MAX_ROWS>;
  for (var k0 = 0u; k0 < params.cols; k0 += SLAB_COLS) {
    let slab = min(SLAB_COLS, params.cols - k0);
    let table_base = (token * (params.cols / 4u) + k0 / 4u) * 8u;
    for (var e = lid; e < slab * 2u; e += WG_SIZE) {
      slab_tables[e] = tables[table_base + e];
    }
    let sum_base = token * (params.cols / 32u) + k0 / 32u;
    for (var e = lid; e < slab / 32u; e += WG_SIZE) {
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
