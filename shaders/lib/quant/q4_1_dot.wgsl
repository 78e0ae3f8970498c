// Dot products of Q4_1 units with activations (see q4_1.wgsl for the layout). The importing kernel declares
// `x: array<act>` besides the weight bindings.
//! import "lib/quant/q4_1.wgsl"

fn unit_dot(unit: u32, x_base: u32) -> f32 {
  var sum_qx = 0.0;
  var sum_x = 0.0;
  for (var w = 0u; w < 4u; w++) {
    let word = qs[unit * 4u + w];
    for (var k = 0u; k < 4u; k++) {
      let j = 4u * w + k;
      let x_lo = f32(x[x_base + j]);
      let x_hi = f32(x[x_base + j + 16u]);
      sum_qx += f32(extractBits(word, 8u * k, 4u)) * x_lo + f32(extractBits(word, 8u * k + 4u, 4u)) * x_hi;
      sum_x += x_lo + x_hi;
    }
  }
  let dm_unit = unpack2x16float(dm[unit]);
  return sum_qx * dm_unit.x + sum_x * dm_unit.y;
}
