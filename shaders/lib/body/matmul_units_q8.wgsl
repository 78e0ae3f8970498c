// The int8 decode GEMV body shared by every matmul_dp4a_<format> kernel: one workgroup per (output slot, token), each
// thread takes 32-element units of the slot's row(s) in turn (unit_dot_q8 from the format's
// lib/quant/<format>_idot.wgsl, against activation block token·units + u of quantize_act_q8's output), then a
// workgroup sum per row and the epilogue (lib/body/epilogue.wgsl; in glu mode a slot is a gate/up row pair). The
// importing kernel declares `params { rows, cols }`, `out`, the activation and weight parts and `override WG_SIZE`,
// and imports the workgroup_sum it reduces with: lib/reduce.wgsl, or lib/reduce_subgroup.wgsl in the *_sg variants.
// Dispatch: slot = x + y·(x-count), token = z, n_tokens = z-count.
//! import "lib/body/epilogue.wgsl"

fn matmul_units_q8(wg: vec3u, groups: vec3u, lid: u32) {
  let slot = wg.x + wg.y * groups.x;
  if (slot >= epilogue_slots(params.rows)) {
    return;
  }
  let token = wg.z;
  let pair = epilogue_rows_per_slot();
  let units_per_row = params.cols / 32u;
  let first_unit = slot * pair * units_per_row;
  var acc0 = 0.0;
  var acc1 = 0.0;
  for (var u = lid; u < units_per_row; u += WG_SIZE) {
    let x_block = token * units_per_row + u;
    acc0 += unit_dot_q8(first_unit + u, x_block);
    if (pair == 2u) {
      acc1 += unit_dot_q8(first_unit + units_per_row + u, x_block);
    }
  }
  let y0 = workgroup_sum(lid, acc0);
  var y1 = 0.0;
  if (pair == 2u) {
    y1 = workgroup_sum(lid, acc1);
  }
  if (lid == 0u) {
    epilogue_store(params.rows, groups.z, token, slot, y0, y1);
  }
}
