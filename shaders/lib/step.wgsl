// Per-step values, shared by every kernel that needs them: the only uniform rewritten between tokens.
//   pos       absolute position of the first token of this step
//   n_tokens  tokens in this step (1 for decode; ≤ the plan's chunk size for prefill)
struct Step {
  pos: u32,
  n_tokens: u32,
}
@group(1) @binding(0) var<uniform> step: Step;
