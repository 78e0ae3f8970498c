// The llama-perplexity protocol on fake models whose answers are known by hand: which tokens each window holds,
// where BOS goes, which positions are scored, and the perplexity of a uniform distribution.
import { describe, expect, it } from 'vitest';
import { negativeLogLikelihood, perplexityOfTokens, type LogitsModel } from './perplexity.ts';

/** A model that records every forward call and answers each token at each position with `logitsFor`. */
function recordingModel(vocabSize: number, contextLength: number, logitsFor: (token: number, pos: number) => Float32Array) {
  const calls: { tokens: number[]; startPos: number; logitsOf: string }[] = [];
  const model: LogitsModel = {
    contextLength,
    vocabSize,
    async forward(tokens, startPos, logitsOf) {
      calls.push({ tokens: [...tokens], startPos, logitsOf });
      return { logits: logitsOf === 'all' ? tokens.map((t, i) => logitsFor(t, startPos + i)) : [] };
    },
  };
  return { model, calls };
}

describe('perplexityOfTokens (llama.cpp llama-perplexity protocol)', () => {
  it('uniform logits give ppl = vocabulary size, with n_ctx − 1 − n_ctx/2 predictions per window', async () => {
    const { model } = recordingModel(7, 16, () => new Float32Array(7));
    const tokens = Array.from({ length: 50 }, (_, i) => i % 7);
    const r = await perplexityOfTokens(model, tokens, 1, { context: 16 });
    expect(r.windows).toBe(3); // ⌊50 / 16⌋, the last 2 tokens dropped
    expect(r.scored).toBe(3 * (16 - 1 - 8));
    expect(r.ppl).toBeCloseTo(7, 12);
    expect(r.nll).toBeCloseTo(Math.log(7), 12);
    expect(r.pplStdErr).toBe(0);
    expect(r.windowPpl).toHaveLength(3);
  });

  it('windows are consecutive n_ctx slices with BOS in front, restarted at position 0, scoring positions n_ctx/2 … n_ctx−2', async () => {
    const scoredPositions: number[] = [];
    const { model, calls } = recordingModel(10, 12, (_token, pos) => {
      scoredPositions.push(pos);
      return new Float32Array(10);
    });
    const tokens = Array.from({ length: 25 }, (_, i) => 100 + i);
    await perplexityOfTokens(model, tokens.map((t) => t % 10), 9, { context: 11 });
    // Window 0 = tokens[0..11) with BOS replacing tokens[0], window 1 = tokens[11..22) with BOS replacing tokens[11].
    expect(calls.map((c) => [c.startPos, c.logitsOf])).toEqual([[0, 'none'], [5, 'all'], [0, 'none'], [5, 'all']]);
    expect(calls[0]!.tokens).toEqual([9, 1, 2, 3, 4]);
    expect(calls[1]!.tokens).toEqual([5, 6, 7, 8, 9]); // positions 5 … 9 = n_ctx − 2 (position 10 has no target)
    expect(calls[2]!.tokens).toEqual([9, 2, 3, 4, 5]);
    expect(scoredPositions).toEqual([5, 6, 7, 8, 9, 5, 6, 7, 8, 9]);
  });

  it('the NLL of each prediction is −log softmax of its row at the next token', async () => {
    // Logits favour token (pos + 1) mod 3 by 2 nats: every prediction of a sequence counting mod 3 is "right".
    const { model } = recordingModel(3, 8, (_t, pos) => Float32Array.from([0, 1, 2], (v) => (v === (pos + 1) % 3 ? 2 : 0)));
    const tokens = Array.from({ length: 8 }, (_, i) => i % 3);
    const r = await perplexityOfTokens(model, tokens, undefined, { context: 8 });
    const expected = Math.log(Math.exp(2) + 2) - 2; // hand calculation: −log(e² / (e² + 1 + 1))
    expect(r.nll).toBeCloseTo(expected, 12);
    expect(negativeLogLikelihood(Float32Array.from([0, 0, 2]), 2)).toBeCloseTo(expected, 12);
  });

  it('maxWindows limits the windows; too short a text or too long a window is rejected', async () => {
    const { model } = recordingModel(4, 16, () => new Float32Array(4));
    const tokens = Array.from({ length: 64 }, () => 1);
    expect((await perplexityOfTokens(model, tokens, 0, { context: 8, maxWindows: 2 })).windows).toBe(2);
    await expect(perplexityOfTokens(model, tokens.slice(0, 7), 0, { context: 8 })).rejects.toThrow(/fewer than one window/);
    await expect(perplexityOfTokens(model, tokens, 0, { context: 32 })).rejects.toThrow(/exceeds the loaded context of 16/);
    await expect(perplexityOfTokens(model, tokens, 0, { context: 3 })).rejects.toThrow(/≥ 4/);
  });
});
