import { describe, expect, it } from 'vitest';
import { CLOUD_ANTHROPIC_BETAS, betaFilter } from './cloud-betas.ts';

describe('betaFilter', () => {
  const header = 'claude-code-20250219, interleaved-thinking-2025-05-14,,mcp-servers-2025-12-04,context-1m-2025-08-07';

  it('by default passes on only the betas the clouds document for Claude, in the client\'s order', () => {
    expect(betaFilter({})(header)).toEqual(['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07']);
    expect(CLOUD_ANTHROPIC_BETAS).not.toContain('claude-code-20250219');
    expect(betaFilter({})(undefined)).toEqual([]);
    expect(betaFilter({})('claude-code-20250219')).toEqual([]);
  });

  it('a provider\'s own list replaces the default; `all` passes every value on', () => {
    expect(betaFilter({ anthropic_betas: ['mcp-servers-2025-12-04'] })(header)).toEqual(['mcp-servers-2025-12-04']);
    expect(betaFilter({ anthropic_betas: [] })(header)).toEqual([]);
    expect(betaFilter({ anthropic_betas: 'all' })(header)).toEqual(['claude-code-20250219', 'interleaved-thinking-2025-05-14', 'mcp-servers-2025-12-04', 'context-1m-2025-08-07']);
  });
});
