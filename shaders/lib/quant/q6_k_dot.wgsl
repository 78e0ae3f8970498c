// Dot products of Q6_K units with activations (see q6_k.wgsl for the layout). The importing kernel declares
// `x: array<act>` besides the weight bindings.
//! import "lib/quant/q6_k.wgsl"

fn unit_dot(unit: u32, x_base: u32) -> f32 {
  var first = 0.0;
  var second = 0.0;
  for (var l = 0u; l < 16u; l++) {
    first += unit_code(unit, l) * f32(x[x_base + l]);
    second += unit_code(unit, l + 16u) * f32(x[x_base + l + 16u]);
  }
  return unit_scale(unit, 0u) * first + unit_scale(unit, 1u) * second;
}
