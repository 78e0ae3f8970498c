// lut_gemv — y[t] = W · x[t] through the T-MAC tables of x[t] (methods.md §5): W [rows, cols] in the LUT bit-plane
// format (@qgpu/formats lut/index.ts: BITS planes of 4-bit table indices, f32 scale and zero point per group), and
// per (row, group γ) y += s·(½ Σ_i 2^i Σ_{G∈γ} T_G[idx_i] + ((2^BITS − 1)/2 − z)·Σ_{k∈γ} x_k), accumulated in f32
//
// Bindings (group 0)         Shape                        Type
//   params   uniform         —                            Params { rows, cols, group }
//   tables   read            [n_tokens, cols/4, 8]        f32 (from lut_build: the odd entries T[2j+1])
//   sums     read            [n_tokens, cols/32]          f32 (from lut_build: Σx per 32 columns)
//   planes   read            [rows, cols/32, BITS]        u32 (nibble n of plane word i: bit i of 4 codes)
//   scales   read            [rows, cols/group]           f32
//   zeros    read            [rows, cols/group]           f32
//   out      read_write      [n_tokens, rows]             act (laid out by the epilogue)
// Dispatch: one workgroup per (chunk of ROWS_PER_WG rows, token): chunk = x + y·(x-count), token = z. The token's
//   tables are staged into workgroup memory SLAB_COLS columns at a time; lanes take (group, row) items group-major,
//   so neighbouring lanes read the same 32-byte table (broadcast, methods.md §5.4) and lane lid only meets row
//   lid % ROWS_PER_WG; each row's WG_SIZE / ROWS_PER_WG partial sums are added by one lane at the end. The default 32
//   rows (2 lanes each) is docs/performance.md "Decode GEMV: rows per workgroup". cols and group are multiples of 32, group divides cols and SLAB_COLS.
// Overrides: WG_SIZE — power of two; BITS — 1..8 (8 holds Q8_0 exactly); ROWS_PER_WG — a power of two dividing WG_SIZE (even for glu);
//   EPILOGUE, SPLIT_A, SPLIT_B — what is done with y (lib/body/epilogue.wgsl).
//! import "lib/body/lut_gemv_units.wgsl"
//! import "lib/reduce.wgsl"

override WG_SIZE: u32 = 64u;
override BITS: u32 = 4u;
override ROWS_PER_WG: u32 = 32u;

struct Params {
  rows: u32,
  cols: u32,
  group: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tables: array<f32>;
@group(0) @binding(2) var<storage, read> sums: array<f32>;
@group(0) @binding(3) var<storage, read> planes: array<u32>;
@group(0) @binding(4) var<storage, read> scales: array<f32>;
@group(0) @binding(5) var<storage, read> zeros: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<act>;

@compute @workgroup_size(WG_SIZE)
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  lut_gemv_rows(wg, groups, lid);
}
