// Claude on AWS Bedrock and on Google Vertex AI refuses a whole call that names an
// `anthropic-beta` value it does not serve (400 "invalid beta flag"), and Claude Code names
// several that only Anthropic's own API knows (claude-code-20250219, mcp-servers-2025-12-04,
// advanced-tool-use-2025-11-20, …). So these kinds pass on only the values the clouds document
// for Claude (the list below, from AWS's Claude Messages parameters page); a provider's
// `anthropic_betas` replaces it, and `anthropic_betas: all` passes every value on as sent.
import type { ProviderConfig } from '@gatelog/core';

export const CLOUD_ANTHROPIC_BETAS: readonly string[] = [
  'computer-use-2024-10-22',
  'computer-use-2025-01-24',
  'token-efficient-tools-2025-02-19',
  'interleaved-thinking-2025-05-14',
  'output-128k-2025-02-19',
  'dev-full-thinking-2025-05-14',
  'context-1m-2025-08-07',
  'context-management-2025-06-27',
  'effort-2025-11-24',
  'tool-search-tool-2025-10-19',
  'tool-examples-2025-10-29',
];

/** The `anthropic-beta` values of a call this provider passes on (none: an empty list). */
export function betaFilter(cfg: Pick<ProviderConfig, 'anthropic_betas'>): (header: string | undefined) => string[] {
  const allowed = cfg.anthropic_betas === 'all' ? null : new Set(cfg.anthropic_betas ?? CLOUD_ANTHROPIC_BETAS);
  return (header) => {
    if (header === undefined) return [];
    const values = header.split(',').map((b) => b.trim()).filter((b) => b !== '');
    return allowed ? values.filter((b) => allowed.has(b)) : values;
  };
}
