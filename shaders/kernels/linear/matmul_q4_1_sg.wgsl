// matmul_q4_1_sg — y[t] = W · x[t] for every token t, with W [rows, cols] in Q4_1 (4 u32 nibble words + (d, m) f16 pair per block of 32),
// dequantized on the fly and accumulated in f32
//
// Bindings (group 0)         Shape               Type
//   params   uniform         —                   Params { rows, cols }
//   x        read            [n_tokens, cols]    act
//   qs       read            (see lib/quant/q4_1.wgsl) u32
//   dm       read            (see lib/quant/q4_1.wgsl) u32
//   out      read_write      [n_tokens, rows]    act (laid out by the epilogue)
// Dispatch: one workgroup per (WG_SIZE / THREADS_PER_ROW output slots, token): slot group = x + y·(x-count),
//   token = z; a slot is one row, or a gate/up row pair in glu mode. Each thread takes 32-element units
//   (a block, or a K-quant sub-block) of the row in turn; cols is a multiple of 32 (256 for K-quants).
// Overrides: WG_SIZE — power of two; THREADS_PER_ROW — power of two (capped at WG_SIZE), lanes per output slot
//   (lib/body/gemv_rows.wgsl); EPILOGUE, SPLIT_A, SPLIT_B — what is done with y (lib/body/epilogue.wgsl).
// Variant of matmul_q4_1 for devices with the `subgroups` feature (chosen at plan build, ops.ts): the workgroup sum
//   uses subgroupAdd (lib/reduce_subgroup.wgsl, correct for any subgroup size) when a row has the whole workgroup;
//   with fewer lanes per row both variants sum through workgroup memory (lib/reduce_rows.wgsl). Everything else is
//   matmul_q4_1's.
enable subgroups;
//! import "lib/quant/q4_1_dot.wgsl"
//! import "lib/body/matmul_units.wgsl"
//! import "lib/reduce_subgroup.wgsl"

override WG_SIZE: u32 = 64u;
override THREADS_PER_ROW: u32 = 64u;

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read> qs: array<u32>;
@group(0) @binding(3) var<storage, read> dm: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sg_lane: u32,
) {
  subgroup_lane = sg_lane;
  gemv_rows(wg, groups, lid);
}
