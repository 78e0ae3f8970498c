// Dot products of Q4_K units with activations (see q4_k.wgsl for the layout). The importing kernel declares
// `x: array<act>` besides the weight bindings.
//! import "lib/quant/q4_k.wgsl"

fn unit_dot(unit: u32, x_base: u32) -> f32 {
  var sum_qx = 0.0;
  var sum_x = 0.0;
  for (var l = 0u; l < 32u; l++) {
    let xl = f32(x[x_base + l]);
    sum_qx += unit_nibble(unit, l) * xl;
    sum_x += xl;
  }
  let sm = unit_scale_min(unit);
  return sm.x * sum_qx - sm.y * sum_x;
}
