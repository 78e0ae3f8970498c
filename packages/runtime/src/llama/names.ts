/** GGUF tensor names by role (llama.cpp's naming). */
export const GGUF_NAMES = {
  tokenEmbedding: 'token_embd.weight',
  outputNorm: 'output_norm.weight',
  output: 'output.weight',
  layer: (i: number) => ({
    attnNorm: `blk.${i}.attn_norm.weight`,
    wq: `blk.${i}.attn_q.weight`,
    wk: `blk.${i}.attn_k.weight`,
    wv: `blk.${i}.attn_v.weight`,
    wo: `blk.${i}.attn_output.weight`,
    ffnNorm: `blk.${i}.ffn_norm.weight`,
    wGate: `blk.${i}.ffn_gate.weight`,
    wUp: `blk.${i}.ffn_up.weight`,
    wDown: `blk.${i}.ffn_down.weight`,
  }),
} as const;
