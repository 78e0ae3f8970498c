// matmul_q5_0 — y[t] = W · x[t] for every token t, with W [rows, cols] in Q5_0 (4 u32 nibble words, 1 u32 high bits, f16 scale pair per block of 32),
// dequantized on the fly and accumulated in f32
//
// Bindings (group 0)         Shape               Type
//   params   uniform         —                   Params { rows, cols }
//   x        read            [n_tokens, cols]    act
//   qs       read            (see lib/quant/q5_0.wgsl) u32
//   qh       read            (see lib/quant/q5_0.wgsl) u32
//   d        read            (see lib/quant/q5_0.wgsl) u32
//   out      read_write      [n_tokens, rows]    act (laid out by the epilogue)
// Dispatch: one workgroup per (WG_SIZE / THREADS_PER_ROW output slots, token): slot group = x + y·(x-count),
//   token = z; a slot is one row, or a gate/up row pair in glu mode. Each thread takes 32-element units
//   (a block, or a K-quant sub-block) of the row in turn; cols is a multiple of 32 (256 for K-quants).
// Overrides: WG_SIZE — power of two; THREADS_PER_ROW — power of two (capped at WG_SIZE), lanes per output slot
//   (lib/body/gemv_rows.wgsl); EPILOGUE, SPLIT_A, SPLIT_B — what is done with y (lib/body/epilogue.wgsl).
//! import "lib/quant/q5_0_dot.wgsl"
//! import "lib/body/matmul_units.wgsl"
//! import "lib/reduce.wgsl"

override WG_SIZE: u32 = 64u;
override THREADS_PER_ROW: u32 = 64u;

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read> qs: array<u32>;
@group(0) @binding(3) var<storage, read> qh: array<u32>;
@group(0) @binding(4) var<storage, read> d: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  gemv_rows(wg, groups, lid);
}
