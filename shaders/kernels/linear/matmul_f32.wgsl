// matmul_f32 — y[t] = W · x[t] for every token t, with W [rows, cols] stored as f32 (row-major, as in GGUF)
//
// Bindings (group 0)         Shape               Type
//   params   uniform         —                   Params { rows, cols }
//   x        read            [n_tokens, cols]    act
//   weight   read            [rows, cols]        f32
//   out      read_write      [n_tokens, rows]    act (laid out by the epilogue)
// Dispatch: one workgroup per (WG_SIZE / THREADS_PER_ROW output slots, token): slot group = x + y·(x-count),
//   z = token (lib/body/matmul_cols.wgsl). A slot's THREADS_PER_ROW lanes stride over cols and reduce in f32 through
//   workgroup memory.
// Overrides: WG_SIZE — power of two; THREADS_PER_ROW — power of two (capped at WG_SIZE), lanes per output slot
//   (lib/body/gemv_rows.wgsl); EPILOGUE, SPLIT_A, SPLIT_B — what is done with y (lib/body/epilogue.wgsl).
//! import "lib/body/matmul_cols.wgsl"
//! import "lib/reduce.wgsl"

override WG_SIZE: u32 = 64u;
override THREADS_PER_ROW: u32 = 64u;

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<act>;

fn weight_at(index: u32) -> f32 {
  return weight[index];
}

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  gemv_rows(wg, groups, lid);
}
