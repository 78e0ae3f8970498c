// Workgroup reductions over WG_SIZE lanes, in f32. The importing kernel declares `override WG_SIZE` (a power of
// two). They contain barriers, so call them from uniform control flow, with every lane taking part.
var<workgroup> reduce_scratch: array<f32, WG_SIZE>;

fn workgroup_sum(lid: u32, value: f32) -> f32 {
  reduce_scratch[lid] = value;
  workgroupBarrier();
  for (var stride = WG_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      reduce_scratch[lid] += reduce_scratch[lid + stride];
    }
    workgroupBarrier();
  }
  let total = reduce_scratch[0];
  // The scratch is reused by the next reduction; nobody may overwrite it before every lane has read the total.
  workgroupBarrier();
  return total;
}

fn workgroup_max(lid: u32, value: f32) -> f32 {
  reduce_scratch[lid] = value;
  workgroupBarrier();
  for (var stride = WG_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      reduce_scratch[lid] = max(reduce_scratch[lid], reduce_scratch[lid + stride]);
    }
    workgroupBarrier();
  }
  let result = reduce_scratch[0];
  workgroupBarrier();
  return result;
}
