// offset_ids — out[t] = tokens[t] − first_id (wrapping below zero to a huge id): token ids relative to one row range
// of an embedding table split into several bindings, so each part's gather sees only its own rows
//
// Bindings (group 0)         Shape          Type
//   params   uniform         —              Params { n, first_id }
//   tokens   read            [n]            u32
//   out      read_write      [n]            u32
// Dispatch: one thread per token, ceil(n / WG_SIZE) workgroups. An id below first_id wraps past every table size,
//   and ids at or above the part's end exceed its vocab_size, so embed_* writes zeros for both.
// Overrides: WG_SIZE.

override WG_SIZE: u32 = 64u;

struct Params {
  n: u32,
  first_id: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t < params.n) {
    out[t] = tokens[t] - params.first_id;
  }
}
