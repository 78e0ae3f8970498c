// Geometry and finish shared by the decode GEMV bodies (lib/body/matmul_units.wgsl, matmul_units_q8.wgsl,
// matmul_cols.wgsl). A workgroup computes WG_SIZE / row_lanes() consecutive output slots of one token
// (lib/body/epilogue.wgsl: a slot is a row, or in glu mode a gate/up row pair summed side by side); lanes
// lid / row_lanes() share a slot and take its columns in turn, then row_sum (lib/reduce_rows.wgsl) and the epilogue.
// row_lanes() = min(THREADS_PER_ROW, WG_SIZE); WG_SIZE lanes per row is one slot per workgroup, the original kernel.
// Short rows use fewer lanes per row so that fewer lanes idle and the per-workgroup cost (launch, barriers) is shared
// by several rows (docs/performance.md "Decode GEMV: rows per workgroup"). The importing kernel declares
// `params { rows, cols }`, `out` and the overrides WG_SIZE and THREADS_PER_ROW (powers of two), and imports
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
