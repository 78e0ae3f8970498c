// Small GGUF models on the Hugging Face hub that this runtime's Llama path reads, for machines with internet.
// Not fetched by any test, and not checked from this offline build machine: the URLs follow the hub's
// `resolve/main` scheme and name files llama.cpp's own tests download; HF serves them with CORS and Content-Length,
// which the cache download needs.
export interface KnownModel {
  readonly name: string;
  readonly url: string;
  readonly size: string;
}

export const KNOWN_MODELS: readonly KnownModel[] = [
  // The tiny llama2.c models llama.cpp's own server tests download (ggml-org/models, tinyllamas/).
  { name: 'stories260K (llama2.c, f32)', url: 'https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf', size: 'about 1 MiB' },
  { name: 'stories15M (llama2.c, Q4_0)', url: 'https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories15M-q4_0.gguf', size: 'size not checked here' },
];
