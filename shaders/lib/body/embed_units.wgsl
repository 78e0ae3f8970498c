// The embedding-gather body shared by every embed_<format> kernel whose table is read in 32-element units
// (unit_value from the format's lib file). Out-of-range ids produce zeros. The importing kernel declares
// `params { dim, vocab_size }`, `tokens`, `out` and its table parts.

fn embed_units(i: u32, t: u32) {
  if (i >= params.dim) {
    return;
  }
  let id = tokens[t];
  var value = 0.0;
  if (id < params.vocab_size) {
    value = unit_value((id * params.dim + i) / 32u, i % 32u);
  }
  out[t * params.dim + i] = act(value);
}
