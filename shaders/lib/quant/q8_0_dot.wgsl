// Dot products of Q8_0 units with activations (see q8_0.wgsl for the layout). The importing kernel declares
// `x: array<act>` besides the weight bindings.
//! import "lib/quant/q8_0.wgsl"

/// Σ w·x over the unit's 32 elements against x[x_base ..].
fn unit_dot(unit: u32, x_base: u32) -> f32 {
  var sum = 0.0;
  for (var w = 0u; w < 8u; w++) {
    let word = bitcast<i32>(qs[unit * 8u + w]);
    for (var k = 0u; k < 4u; k++) {
      sum += f32(extractBits(word, 8u * k, 8u)) * f32(x[x_base + 4u * w + k]);
    }
  }
  return sum * unit_scale(unit);
}
