// argmax — index of the largest logit of the step's last token (ties: the lowest index, as llama.cpp's greedy
// sampler picks), so greedy decoding reads back 4 bytes instead of the logits.
//
// Bindings (group 0)         Shape                       Type
//   params   uniform         —                           Params { vocab_size }
//   logits   read            [n_tokens, vocab_size]      act
//   out      read_write      [1]                         u32
// Group 1: step { pos, n_tokens } — the row read is n_tokens − 1, or row 0 with ROW_FROM_STEP = 0 (logits computed
//   for the last token only, see rms_norm_last).
// Dispatch: a single workgroup; WG_SIZE threads stride over the vocabulary, then a tree reduction of (value, index).
// Overrides: WG_SIZE — power of two; ROW_FROM_STEP — 1: read row n_tokens − 1, 0: read row 0.
//! import "lib/step.wgsl"

override WG_SIZE: u32 = 256u;
override ROW_FROM_STEP: u32 = 1u;

struct Params {
  vocab_size: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<act>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

var<workgroup> best_value: array<f32, WG_SIZE>;
var<workgroup> best_index: array<u32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(local_invocation_index) lid: u32) {
  let base = select(0u, step.n_tokens - 1u, ROW_FROM_STEP != 0u) * params.vocab_size;
  var value = -3.4e38;
  var index = 0xffffffffu;
  for (var i = lid; i < params.vocab_size; i += WG_SIZE) {
    let v = f32(logits[base + i]);
    if (v > value) {
      value = v;
      index = i;
    }
  }
  best_value[lid] = value;
  best_index[lid] = index;
  workgroupBarrier();
  for (var stride = WG_SIZE / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let other_value = best_value[lid + stride];
      let other_index = best_index[lid + stride];
      if (other_value > best_value[lid] || (other_value == best_value[lid] && other_index < best_index[lid])) {
        best_value[lid] = other_value;
        best_index[lid] = other_index;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[0] = best_index[0];
  }
}
