// The tiled int8 prefill GEMM body shared by every gemm_dp4a_<format> kernel (W8A8 / W4A8, methods.md §8.3): the
// scheme of gemm_units.wgsl with int8 activations. Per 32-column unit the workgroup stages the TILE_TOKENS tokens'
// activation blocks (8 code words, xd, xs each) in workgroup memory; each thread decodes its slot's unit(s) once
// (unit_load_q8 from the format's lib/quant/<format>_idot.wgsl) and takes exact i32 dot products with every staged
// token, then writes through the epilogue (lib/body/epilogue.wgsl: a slot is a row, or a gate/up row pair in glu
// mode). The importing kernel declares `params { rows, cols, n_tokens }`, `xq`, `xd`, `xs`, `out`, its weight parts
// and the overrides WG_SIZE and TILE_TOKENS (≤ 16).
//! import "lib/body/epilogue.wgsl"

var<workgroup> xq_tile: array<u32, TILE_TOKENS * 8u>;
var<workgroup> xd_tile: array<f32, TILE_TOKENS>;
var<workgroup> xs_tile: array<f32, TILE_TOKENS>;

// acc[t] += unit `weight_unit` · staged token t, for every staged token.
fn gemm_unit_dots_q8(weight_unit: u32, acc: ptr<function, array<f32, 16>>) {
  let wu = unit_load_q8(weight_unit);
  for (var t = 0u; t < TILE_TOKENS; t++) {
    var dot_unit = 0i;
    for (var w = 0u; w < 8u; w++) {
      dot_unit += dot4I8Packed(wu.words[w], xq_tile[t * 8u + w]);
    }
    (*acc)[t] += wu.scale * xd_tile[t] * f32(dot_unit) - wu.offset * xs_tile[t];
  }
}

fn gemm_units_q8(slot: u32, token0: u32, lid: u32) {
  let units_per_row = params.cols / 32u;
  let pair = epilogue_rows_per_slot();
  let live = slot < epilogue_slots(params.rows);
  let first_unit = slot * pair * units_per_row;
  var acc0: array<f32, 16>;
  var acc1: array<f32, 16>;
  for (var u = 0u; u < units_per_row; u++) {
    // Tokens past the chunk stage zero codes and scales, so their (never written) accumulators stay 0.
    for (var i = lid; i < TILE_TOKENS * 8u; i += WG_SIZE) {
      let t = token0 + i / 8u;
      var word = 0u;
      if (t < params.n_tokens) {
        word = xq[(t * units_per_row + u) * 8u + i % 8u];
      }
      xq_tile[i] = word;
    }
    for (var i = lid; i < TILE_TOKENS; i += WG_SIZE) {
      let t = token0 + i;
      var scale = 0.0;
      var sum = 0.0;
      if (t < params.n_tokens) {
        scale = xd[t * units_per_row + u];
        sum = xs[t * units_per_row + u];
      }
      xd_tile[i] = scale;
      xs_tile[i] = sum;
    }
    workgroupBarrier();
    if (live) {
      gemm_unit_dots_q8(first_unit + u, &acc0);
      if (pair == 2u) {
        gemm_unit_dots_q8(first_unit + units_per_row + u, &acc1);
      }
    }
    workgroupBarrier();
  }
  if (live) {
    for (var t = 0u; t < TILE_TOKENS; t++) {
      if (token0 + t < params.n_tokens) {
        epilogue_store(params.rows, params.n_tokens, token0 + t, slot, acc0[t], acc1[t]);
      }
    }
  }
}
