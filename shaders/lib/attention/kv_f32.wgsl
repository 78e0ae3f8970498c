// KV cache in f32: one f32 per element, row-major [seq_len, n_kv_heads·head_dim] (the exact values of k and v).
// key4(e) / value4(e) read elements e .. e+3 of the importing kernel's `k_cache` / `v_cache` (array<f32>); e is a
// multiple of 4 inside one head (head_dim % 4 == 0 is checked by ops.ts).
fn key4(e: u32) -> vec4<f32> {
  return vec4<f32>(k_cache[e], k_cache[e + 1u], k_cache[e + 2u], k_cache[e + 3u]);
}

fn value4(e: u32) -> vec4<f32> {
  return vec4<f32>(v_cache[e], v_cache[e + 1u], v_cache[e + 2u], v_cache[e + 3u]);
}
