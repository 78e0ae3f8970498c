// The LUT GEMV body of lut_gemv (see lut_gemv.wgsl's header for the scheme): table staging
// per slab, the (group, row) items and the per-row sums. The importing kernel declares `params { rows, cols, group }`,
// `tables`, `sums`, `planes`, `scales`, `zeros`, `out`, the overrides WG_SIZE, BITS and ROWS_PER_WG (a power of two
// dividing WG_SIZE), and imports lib/reduce.wgsl or lib/reduce_subgroup.wgsl for its `reduce_scratch`. The per-row
// sums are written through lib/body/epilogue.wgsl (n_tokens = z-count).
//! import "lib/body/epilogue.wgsl"

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
  // Items (group g, row r) are taken group-major, item = g·ROWS_PER_WG + r, in strides of WG_SIZE: since ROWS_PER_WG
  // divides WG_SIZE, lane lid only ever meets row r = lid % ROWS_PER_WG, so one accumulator per lane suffices.
  let r = lid % ROWS_PER_WG;
  let row = first_row + r;
  var acc = 0.0;
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
    if (row < params.rows) {
      for (var g = lid / ROWS_PER_WG; g < slab_groups; g += WG_SIZE / ROWS_PER_WG) {
        let local_block = g * (params.group / 32u);
        acc += group_term(row, k0 / params.group + g, local_block, k0 / 32u + local_block);
      }
    }
    // The next slab overwrites the staged tables only after every lane is done with them.
    workgroupBarrier();
  }
  // Row r's total: lane r adds the partial sums of lanes r, r + ROWS_PER_WG, … in lane order (3 barriers whatever
  // ROWS_PER_WG is, no subgroup operation). Then one slot per row, or per gate/up row pair in glu mode (ROWS_PER_WG
  // even there, so a pair never straddles two workgroups).
  reduce_scratch[lid] = acc;
  workgroupBarrier();
  var total = 0.0;
  if (lid < ROWS_PER_WG) {
    for (var i = lid; i < WG_SIZE; i += ROWS_PER_WG) {
      total += reduce_scratch[i];
    }
  }
  workgroupBarrier();
  if (lid < ROWS_PER_WG) {
    reduce_scratch[lid] = total;
  }
  workgroupBarrier();
  let pair = epilogue_rows_per_slot();
  if (lid < ROWS_PER_WG && lid % pair == 0u && row < params.rows) {
    epilogue_store(params.rows, groups.z, token, row / pair, total, reduce_scratch[min(lid + 1u, WG_SIZE - 1u)]);
  }
}
