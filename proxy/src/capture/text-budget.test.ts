import { describe, expect, it } from 'vitest';
import { MAX_KEPT_TEXT_CHARS, TextBudget } from './text-budget.ts';
import { StreamAssembler } from './assemble.ts';

describe('TextBudget', () => {
  it('keeps text up to its bound and counts the UTF-8 bytes it drops', () => {
    const b = new TextBudget(10);
    expect(b.keep('hello ')).toBe('hello ');
    expect(b.keep('wörld!!')).toBe('wörl');
    expect(b.keep('ééé')).toBe('');
    expect(b.droppedBytes).toBe(3 + 6);
  });

  it('bounds what a stream assembler keeps, however much content arrives', () => {
    const a = new StreamAssembler('chat');
    const piece = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 3; i++) a.add({ choices: [{ index: 0, delta: { content: piece } }] });
    expect(a.outputText().length).toBe(MAX_KEPT_TEXT_CHARS);
    expect(a.budget.droppedBytes).toBe(3 * piece.length - MAX_KEPT_TEXT_CHARS);
  });
});
