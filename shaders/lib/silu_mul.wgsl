// silu(gate) · up of one element, in f32 from act inputs: the one expression shared by the silu_mul kernel and the
// linear kernels' glu epilogue (lib/body/epilogue.wgsl), so the fused and unfused FFNs round identically.
fn silu_mul_value(gate: act, up: act) -> act {
  let g = f32(gate);
  return act(g / (1.0 + exp(-g)) * f32(up));
}
