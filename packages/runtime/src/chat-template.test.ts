// Real chat templates rendered with @huggingface/jinja against expected strings written by hand from each format's
// published layout; the fallback; special-token splitting; where templates come from (GGUF, tokenizer_config.json).
import { describe, expect, it } from 'vitest';
import { bytesSource, readGguf } from '@qgpu/formats';
import { spmVocabFromGguf } from '@qgpu/tokenizer';
import { readSharedBytes } from '@qgpu/testing';
import {
  chatFormatFromGguf, chatTemplateFromTokenizerConfig, FALLBACK_CHAT_TEMPLATE, renderChat, splitSpecialTokens, type ChatMessage,
} from './chat-template.ts';
import { QgpuError } from './errors.ts';

// ChatML as SmolLM2-Instruct ships it in tokenizer_config.json (a default system turn when none is given).
const CHATML = String.raw`{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
' }}{% endif %}{{'<|im_start|>' + message['role'] + '
' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
' }}{% endif %}`;

// Llama-2-chat's template (meta-llama/Llama-2-7b-chat-hf tokenizer_config.json).
const LLAMA2 = String.raw`{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}`;

const conversation: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello!' },
  { role: 'user', content: 'Tell me a joke' },
];
const tokens = { bosToken: '<s>', eosToken: '</s>' };

describe('renderChat', () => {
  it('ChatML (SmolLM2) with a generation prompt', () => {
    expect(renderChat({ template: CHATML, ...tokens }, conversation)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n' +
      '<|im_start|>user\nTell me a joke<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('ChatML inserts its default system turn, and omits the generation prompt on request', () => {
    expect(renderChat({ template: CHATML, ...tokens }, [{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false })).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n',
    );
  });

  it('Llama-2 uses bos_token and eos_token and folds the system message into the first turn', () => {
    expect(renderChat({ template: LLAMA2, ...tokens }, conversation)).toBe(
      '<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Tell me a joke [/INST]',
    );
  });

  it("a template's raise_exception becomes a QgpuError with the template's message", () => {
    const bad: ChatMessage[] = [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }];
    const run = () => renderChat({ template: LLAMA2, ...tokens }, bad);
    expect(run).toThrow(QgpuError);
    expect(run).toThrow(/Conversation roles must alternate/);
  });

  it('models without a template get the plain fallback', () => {
    expect(renderChat({ template: null, ...tokens }, conversation)).toBe('Be brief.\n\nUser: Hi\nAssistant: Hello!\nUser: Tell me a joke\nAssistant:');
    expect(FALLBACK_CHAT_TEMPLATE).toContain('add_generation_prompt');
  });

  it('rejects malformed messages and unparsable templates', () => {
    expect(() => renderChat({ template: null, ...tokens }, [])).toThrow(/non-empty/);
    expect(() => renderChat({ template: null, ...tokens }, [{ role: 'user' } as unknown as ChatMessage])).toThrow(/messages\[0\]/);
    expect(() => renderChat({ template: '{% for %}', ...tokens }, conversation)).toThrow(/does not parse/);
  });
});

describe('splitSpecialTokens', () => {
  it('cuts control tokens out, longest first, and keeps the text between them', () => {
    const specials = new Map([['<|im_start|>', 1], ['<|im_end|>', 2], ['<|im', 9]]);
    expect(splitSpecialTokens('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', specials))
      .toEqual([1, 'user\nHi', 2, '\n', 1, 'assistant\n']);
    expect(splitSpecialTokens('no specials', specials)).toEqual(['no specials']);
  });
});

describe('where templates come from', () => {
  it('a GGUF without tokenizer.chat_template (stories260K) has none; BOS/EOS and control tokens come from the vocabulary', async () => {
    const file = await readGguf(bytesSource(readSharedBytes('models/stories260K/stories260K-f32.gguf')));
    const vocab = spmVocabFromGguf(file.metadata);
    const format = chatFormatFromGguf(file.metadata);
    expect(format.template).toBeNull();
    expect({ bos: format.bosToken, eos: format.eosToken, addBos: format.addBos }).toEqual({ bos: vocab.tokens[vocab.bosId], eos: vocab.tokens[vocab.eosId], addBos: vocab.addBos });
    expect(format.specialTokens.get(format.bosToken)).toBe(vocab.bosId);
  });

  it('a GGUF with tokenizer.chat_template uses it', () => {
    const metadata = new Map<string, unknown>([
      ['tokenizer.chat_template', CHATML], ['tokenizer.ggml.tokens', ['<unk>', '<|im_start|>', 'a']], ['tokenizer.ggml.token_type', [2, 3, 1]],
      ['tokenizer.ggml.bos_token_id', 1], ['tokenizer.ggml.eos_token_id', 4294967295], ['tokenizer.ggml.add_bos_token', false],
    ]);
    const format = chatFormatFromGguf(metadata);
    expect(format).toMatchObject({ template: CHATML, bosId: 1, bosToken: '<|im_start|>', eosToken: '', addBos: false });
    expect([...format.specialTokens]).toEqual([['<|im_start|>', 1]]);
  });

  it('a safetensors model (tokenizer.json carried whole): special added tokens are control tokens; no BOS by default for BPE', () => {
    const json = new TextDecoder().decode(readSharedBytes('models/tokenizers/smollm2-135m/tokenizer.json'));
    const metadata = new Map<string, unknown>([
      ['tokenizer.ggml.model', 'gpt2'], ['tokenizer.huggingface.json', json], ['tokenizer.chat_template', CHATML],
      ['tokenizer.ggml.bos_token_id', 1], ['tokenizer.ggml.eos_token_id', 2],
    ]);
    const format = chatFormatFromGguf(metadata);
    expect(format).toMatchObject({ template: CHATML, bosToken: '<|im_start|>', eosToken: '<|im_end|>', addBos: false, bosId: 1 });
    expect(format.specialTokens.get('<|im_start|>')).toBe(1);
    expect(format.specialTokens.get('<|im_end|>')).toBe(2);
    expect(splitSpecialTokens('<|im_start|>user\nHi<|im_end|>\n', format.specialTokens)).toEqual([1, 'user\nHi', 2, '\n']);
  });

  it('tokenizer_config.json: string or named templates, tokens as strings or AddedToken objects', () => {
    expect(chatTemplateFromTokenizerConfig({ chat_template: CHATML, bos_token: '<|im_start|>', eos_token: { content: '<|im_end|>' } }))
      .toEqual({ template: CHATML, bosToken: '<|im_start|>', eosToken: '<|im_end|>' });
    expect(chatTemplateFromTokenizerConfig({ chat_template: [{ name: 'tool_use', template: 'x' }, { name: 'default', template: LLAMA2 }] }).template)
      .toBe(LLAMA2);
    expect(chatTemplateFromTokenizerConfig({})).toEqual({ template: null, bosToken: '', eosToken: '' });
  });
});
