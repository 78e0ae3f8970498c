// Per-row sums of the multi-row decode GEMVs (lib/body/gemv_rows.wgsl): the workgroup's WG_SIZE lanes form
// WG_SIZE / row_lanes() groups of row_lanes() consecutive lanes (local_invocation_index), one per output slot, and
// row_sum gives each group's total to its first lane (lid % row_lanes() == 0; what other lanes get is unspecified).
// The importing kernel declares `override WG_SIZE` and `override THREADS_PER_ROW` (a power of two; values ≥ WG_SIZE
// mean the whole workgroup) and imports lib/reduce.wgsl or lib/reduce_subgroup.wgsl, whose workgroup_sum and
// reduce_scratch it reuses. Call from uniform control flow with every lane taking part (it contains barriers).
//
// row_lanes() == WG_SIZE is the one-row-per-workgroup kernel: workgroup_sum, unchanged (tree through workgroup
// memory, or subgroupAdd in the *_sg variants). Below that, each lane publishes its partial sum and the group's first
// lane adds its row_lanes() slots in lane order after one barrier: no subgroup operation, so the result is the same in
// both variants and for any subgroup size or lane-to-subgroup mapping (a subgroup may straddle two rows' groups), and
// it costs 2 barriers whatever the group size is — on the CPU adapters a barrier, not an add, is what costs.

// Lanes per output slot: THREADS_PER_ROW, at most the workgroup.
fn row_lanes() -> u32 {
  return min(THREADS_PER_ROW, WG_SIZE);
}

fn row_sum(lid: u32, value: f32) -> f32 {
  let lanes = row_lanes();
  if (lanes == WG_SIZE) {
    return workgroup_sum(lid, value);
  }
  reduce_scratch[lid] = value;
  workgroupBarrier();
  var total = 0.0;
  if (lid % lanes == 0u) {
    for (var i = 0u; i < lanes; i++) {
      total += reduce_scratch[lid + i];
    }
  }
  // The scratch is reused by the next sum; nobody may overwrite it before every group has read it.
  workgroupBarrier();
  return total;
}
