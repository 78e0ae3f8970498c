// Dot products of Q4_0 units with activations (see q4_0.wgsl for the layout). The importing kernel declares
// `x: array<act>` besides the weight bindings.
//! import "lib/quant/q4_0.wgsl"

fn unit_dot(unit: u32, x_base: u32) -> f32 {
  var sum = 0.0;
  for (var w = 0u; w < 4u; w++) {
    let word = qs[unit * 4u + w];
    for (var k = 0u; k < 4u; k++) {
      let j = 4u * w + k;
      let lo = f32(extractBits(word, 8u * k, 4u)) - 8.0;
      let hi = f32(extractBits(word, 8u * k + 4u, 4u)) - 8.0;
      sum += lo * f32(x[x_base + j]) + hi * f32(x[x_base + j + 16u]);
    }
  }
  return sum * unit_scale(unit);
}
