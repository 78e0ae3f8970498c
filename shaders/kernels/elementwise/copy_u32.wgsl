// copy_u32 — dst[i] = src[i] over n_vec4 groups of 4 u32 words: a plain copy, the memory-bandwidth roofline of the benchmarks
//
// Bindings (group 0)         Shape          Type
//   params   uniform         —              Params { n_vec4 }
//   src      read            [n_vec4 · 4]   u32 (as vec4<u32>)
//   dst      read_write      [n_vec4 · 4]   u32 (as vec4<u32>)
// Dispatch: ceil(n_vec4 / (WG_SIZE · PER_THREAD)) workgroups split over x and y (x ≤ 65535; block = x + y·(x-count)),
//   since a 128 MiB buffer needs more than 65535 workgroups on one axis. Lengths are whole vec4s (16 bytes).
// Each thread moves PER_THREAD vec4s, WG_SIZE apart, so neighbouring threads touch neighbouring 16-byte words
//   (coalesced on GPUs). vec4 and several per thread because one u32 per thread measured 2–3× slower on lavapipe
//   and SwiftShader here (per-invocation overhead, not memory, was the limit), which would make a poor roofline.
// Overrides: WG_SIZE, PER_THREAD.

override WG_SIZE: u32 = 64u;
override PER_THREAD: u32 = 4u;

struct Params {
  n_vec4: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let first = (wg.x + wg.y * groups.x) * WG_SIZE * PER_THREAD + lid;
  for (var k = 0u; k < PER_THREAD; k++) {
    let i = first + k * WG_SIZE;
    if (i < params.n_vec4) {
      dst[i] = src[i];
    }
  }
}
