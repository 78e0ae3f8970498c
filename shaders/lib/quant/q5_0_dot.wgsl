// Dot products of Q5_0 units with activations (see q5_0.wgsl for the layout). The importing kernel declares
// `x: array<act>` besides the weight bindings.
//! import "lib/quant/q5_0.wgsl"

fn unit_dot(unit: u32, x_base: u32) -> f32 {
  var sum = 0.0;
  for (var i = 0u; i < 32u; i++) {
    sum += unit_code(unit, i) * f32(x[x_base + i]);
  }
  return sum * unit_scale(unit);
}
