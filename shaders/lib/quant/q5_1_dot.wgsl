// Dot products of Q5_1 units with activations (see q5_1.wgsl for the layout). The importing kernel declares
// `x: array<act>` besides the weight bindings.
//! import "lib/quant/q5_1.wgsl"

fn unit_dot(unit: u32, x_base: u32) -> f32 {
  var sum_qx = 0.0;
  var sum_x = 0.0;
  for (var i = 0u; i < 32u; i++) {
    let xi = f32(x[x_base + i]);
    sum_qx += unit_code(unit, i) * xi;
    sum_x += xi;
  }
  let dm_unit = unpack2x16float(dm[unit]);
  return sum_qx * dm_unit.x + sum_x * dm_unit.y;
}
