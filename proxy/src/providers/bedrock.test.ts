import { describe, expect, it } from 'vitest';
import { isAnthropicModel } from './bedrock.ts';

describe('which Bedrock model ids are Claude (InvokeModel) and which go through Converse', () => {
  it.each([
    ['anthropic.claude-3-5-haiku-20241022-v1:0', true],
    ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', true],
    ['global.anthropic.claude-sonnet-4-5-20250929-v1:0', true],
    ['apac.anthropic.claude-3-5-sonnet-20240620-v1:0', true],
    ['us-gov.anthropic.claude-3-haiku-20240307-v1:0', true],
    ['arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0', true],
    ['us.amazon.nova-pro-v1:0', false],
    ['amazon.nova-lite-v1:0', false],
    ['meta.llama3-1-70b-instruct-v1:0', false],
    ['mistral.mistral-large-2407-v1:0', false],
    ['cohere.command-r-plus-v1:0', false],
    ['us.deepseek.r1-v1:0', false],
    ['eu.amazon.nova-micro-v1:0', false],
    // Named like Claude only further in: not an Anthropic id.
    ['custom.my-anthropic.claude-finetune', false],
  ])('%s → Claude: %s', (id, claude) => {
    expect(isAnthropicModel(id)).toBe(claude);
  });
});
