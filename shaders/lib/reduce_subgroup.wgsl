// workgroup_sum of lib/reduce.wgsl with subgroup operations (the *_sg kernel variants, for devices with the
// `subgroups` feature): the same signature and result (the workgroup total, returned to every lane), with 2 barriers
// instead of 2 + log2(WG_SIZE). The importing kernel starts with `enable subgroups;`, declares `override WG_SIZE`,
// and sets `subgroup_lane` from @builtin(subgroup_invocation_id) at the top of main.
//
// Correct for any subgroup size and any mapping of lanes to subgroups (WGSL promises neither a size — SwiftShader
// reports 4, lavapipe 8, GPUs 16..128 — nor that subgroups are contiguous ranges of local_invocation_index):
// subgroupAdd gives each subgroup its total, exactly one lane per subgroup (invocation id 0) publishes it in its
// own slot while every other lane publishes 0, and each lane then adds all WG_SIZE slots in slot order, so every
// lane gets the same total and the result does not depend on how the driver forms subgroups.
// Call from uniform control flow with every lane taking part (barriers and subgroupAdd both require it).
var<workgroup> reduce_scratch: array<f32, WG_SIZE>;
var<private> subgroup_lane: u32;

fn workgroup_sum(lid: u32, value: f32) -> f32 {
  let partial = subgroupAdd(value);
  reduce_scratch[lid] = select(0.0, partial, subgroup_lane == 0u);
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < WG_SIZE; i++) {
    total += reduce_scratch[i];
  }
  // The scratch is reused by the next reduction; nobody may overwrite it before every lane has read it.
  workgroupBarrier();
  return total;
}
