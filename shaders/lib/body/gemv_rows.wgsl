// The decode GEMV body of every matmul_* kernel. The weight format enters through two functions that the importing
// body file defines (lib/body/matmul_units.wgsl: 32-element units against act x; matmul_units_q8.wgsl: units against
// int8 activation blocks; matmul_cols.wgsl: single dense columns): `gemv_items_per_row()`, and
// `gemv_item_dot(item, i, token)`, the dot product of the matrix's item `item` (row-major over items) — item `i` of
// its row — with token `token`'s activations. A workgroup computes WG_SIZE / row_lanes() consecutive output slots of one token
// (lib/body/epilogue.wgsl: a slot is a row, or in glu mode a gate/up row pair summed side by side); lanes
// lid / row_lanes() share a slot and take its columns in turn, then row_sum (lib/reduce_rows.wgsl) and the epilogue.
// row_lanes() = min(THREADS_PER_ROW, WG_SIZE); WG_SIZE lanes per row is one slot per workgroup, the original kernel.
// Short rows use fewer lanes per row so that fewer lanes idle and the per-workgroup cost (launch, barriers) is shared
// by several rows (docs/performance.md "Decode GEMV: rows per workgroup"). The importing kernel declares
// `params { rows, cols }`, `out`, the activation and weight bindings, and the overrides WG_SIZE and THREADS_PER_ROW
// (powers of two), and imports
// lib/reduce.wgsl, or lib/reduce_subgroup.wgsl in the *_sg variants. Dispatch: slot group = x + y·(x-count)
// (ceil(slots / (WG_SIZE / row_lanes())) groups), token = z, n_tokens = z-count.
//! import "lib/body/epilogue.wgsl"
//! import "lib/reduce_rows.wgsl"

// The workgroup's first slot, uniform over the workgroup: when it is past the last slot the workgroup returns at once.
fn gemv_first_slot(wg: vec3u, groups: vec3u) -> u32 {
  return (wg.x + wg.y * groups.x) * (WG_SIZE / row_lanes());
}

struct GemvLane {
  // This lane's slot, and its index among the slot's row_lanes() lanes.
  slot: u32,
  lane: u32,
  // Whether the slot exists: the last workgroup's lanes past the last slot sum nothing but join the barriers.
  live: bool,
}

fn gemv_lane(first_slot: u32, lid: u32) -> GemvLane {
  let slot = first_slot + lid / row_lanes();
  return GemvLane(slot, lid % row_lanes(), slot < epilogue_slots(params.rows));
}

// Sums the slot's row(s) over its lanes and stores them through the epilogue (acc1: the up row in glu mode). Call
// from uniform control flow.
fn gemv_finish(g: GemvLane, lid: u32, token: u32, n_tokens: u32, acc0: f32, acc1: f32) {
  let y0 = row_sum(lid, acc0);
  var y1 = 0.0;
  if (epilogue_rows_per_slot() == 2u) {
    y1 = row_sum(lid, acc1);
  }
  if (g.lane == 0u && g.live) {
    epilogue_store(params.rows, n_tokens, token, g.slot, y0, y1);
  }
}

// y = W·x[token] for the workgroup's slots: a slot's lanes take the items of its row(s) in turn (both rows of a glu
// pair side by side, sharing the token's activations), then gemv_finish.
fn gemv_rows(wg: vec3u, groups: vec3u, lid: u32) {
  let first_slot = gemv_first_slot(wg, groups);
  if (first_slot >= epilogue_slots(params.rows)) {
    return;
  }
  let g = gemv_lane(first_slot, lid);
  let token = wg.z;
  let pair = epilogue_rows_per_slot();
  let items = gemv_items_per_row();
  let first_item = g.slot * pair * items;
  var acc0 = 0.0;
  var acc1 = 0.0;
  for (var i = g.lane; i < select(0u, items, g.live); i += row_lanes()) {
    acc0 += gemv_item_dot(first_item + i, i, token);
    if (pair == 2u) {
      acc1 += gemv_item_dot(first_item + items + i, i, token);
    }
  }
  gemv_finish(g, lid, token, groups.z, acc0, acc1);
}
