// The V8 settings only help if they are in place before anything else loads: every long-running
// entry point must import heap-tuning.ts ahead of its other imports (ES modules evaluate in
// import order, so a later import would let zod, kafkajs and fastify load first).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { V8_FLAGS } from './heap-tuning.ts';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const ENTRY_POINTS = ['src/cli.ts', 'proxy/src/main.ts', 'ingest/src/main.ts'];

/** The module specifiers of a file's static imports, in order. */
function importsOf(source: string): string[] {
  return [...source.matchAll(/^import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"];?\s*$/gm)].map((m) => m[1]!);
}

describe('heap tuning', () => {
  it.each(ENTRY_POINTS)('%s imports it before anything else', (file) => {
    const imports = importsOf(readFileSync(join(ROOT, file), 'utf8'));
    expect(imports.length).toBeGreaterThan(1);
    expect(imports[0]).toBe('@gatelog/core/heap-tuning');
  });

  it('names only flags this V8 knows (setFlagsFromString ignores an unknown one silently)', () => {
    const known = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    expect(V8_FLAGS).toContain('--no-allocation-site-pretenuring');
    for (const flag of V8_FLAGS) {
      const name = flag.replace(/^--(no-)?/, '');
      expect(known).toMatch(new RegExp(`^\\s+--${name} `, 'm'));
    }
  });
});
