// withTopLevel: the client's JSON text with top-level fields set, byte for byte elsewhere.
import { describe, expect, it } from 'vitest';
import { withTopLevel, withTopLevelBoth } from './top-level.ts';

const json = (o: Record<string, unknown>): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, JSON.stringify(v)]));

describe('withTopLevel', () => {
  it('replaces the model and leaves every other byte as the client wrote it', () => {
    const text = '{\n  "model" : "fast",\n  "seed": 12345678901234567891,\n  "temperature": 1e999,\n  "top_p": -0,\n  "messages": [{"role":"user","content":"caf\\u00e9 \\"quoted\\" {braces} [x] a\\\\"}]\n}\n';
    const out = withTopLevel(text, { model: '"gpt-4o-mini"' });
    expect(out).toBe(text.replace('"fast"', '"gpt-4o-mini"'));
    // What re-serialising would have sent instead.
    expect(JSON.stringify(JSON.parse(text))).toContain('"seed":12345678901234567000');
  });

  it('appends a field the body lacks, and replaces one it has, nested strings and all', () => {
    expect(withTopLevel('{"model":"a","stream":true}', json({ model: 'b', stream_options: { include_usage: true } })))
      .toBe('{"model":"b","stream":true,"stream_options":{"include_usage":true}}');
    const has = '{"stream_options":{"note":"} ] \\" {","include_usage":false},"model":"a","x":[1,{"y":"}"}]}';
    expect(withTopLevel(has, json({ model: 'b', stream_options: { include_usage: true } })))
      .toBe('{"stream_options":{"include_usage":true},"model":"b","x":[1,{"y":"}"}]}');
    expect(withTopLevel(' {} ', json({ model: 'm' }))).toBe(' {"model":"m"} ');
  });

  it('replaces every top-level occurrence of a duplicated key and none nested deeper', () => {
    const text = '{"model":"a","messages":[{"model":"inner","content":"\\"model\\":\\"x\\""}],"model":"c"}';
    const out = withTopLevel(text, json({ model: 'z' }))!;
    expect(out).toBe('{"model":"z","messages":[{"model":"inner","content":"\\"model\\":\\"x\\""}],"model":"z"}');
    expect(JSON.parse(out)).toEqual({ model: 'z', messages: [{ model: 'inner', content: '"model":"x"' }] });
  });

  it('gives up (null) where the top level is not written plainly', () => {
    // "mod\u0065l" is "model" once parsed: replacing only the plain one would send the alias.
    expect(withTopLevel('{"model":"a","mod\\u0065l":"b"}', json({ model: 'z' }))).toBeNull();
    expect(withTopLevel('[1]', json({ model: 'z' }))).toBeNull();
    expect(withTopLevel('{"model":"a"} x', json({ model: 'z' }))).toBeNull();
    expect(withTopLevel('{"model":"a"', json({ model: 'z' }))).toBeNull();
  });

  it('agrees with parsing and assigning, on generated bodies of every shape', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const strings = ['', 'plain', 'q"uo"te', 'back\\slash\\', '{[}]', 'línea\nnueva', 'tab\there', '\u2028', 'emoji 😀', '\\"'];
    const value = (depth: number): unknown => {
      switch (rand(depth > 2 ? 4 : 6)) {
        case 0: return strings[rand(strings.length)];
        case 1: return rand(1000) - 500;
        case 2: return [true, false, null][rand(3)];
        case 3: return rand(100) / 7;
        case 4: return Array.from({ length: rand(4) }, () => value(depth + 1));
        default: return Object.fromEntries(Array.from({ length: rand(4) }, (_, i) => [`${strings[rand(strings.length)]}${i}`, value(depth + 1)]));
      }
    };
    for (let n = 0; n < 300; n++) {
      const body: Record<string, unknown> = {};
      for (let i = rand(6); i > 0; i--) body[i === 1 ? 'model' : `k${rand(50)}`] = value(1);
      const text = JSON.stringify(body, null, rand(3) === 0 ? 2 : undefined);
      const set = rand(2) === 0 ? { model: `m${n}` } : { model: `m${n}`, stream_options: { include_usage: true } };
      const out = withTopLevel(text, json(set));
      expect(out).not.toBeNull();
      expect(JSON.parse(out!)).toEqual({ ...body, ...set });
      // The same body as bytes, spliced from the text's own bytes.
      const both = withTopLevelBoth(text, Buffer.from(text), json(set));
      expect(both?.text).toBe(out);
      expect(both!.bytes.equals(Buffer.from(out!))).toBe(true);
    }
  });

  it('setting the model over a body it made is setting every field at once over the original (a fallback\'s request_set)', () => {
    const texts = [
      '{"model":"alias","messages":[]}',
      '{ "messages": [], "stream": true }',
      '{"model":"a","stream_options":{"x":1},"model":"dup"}',
      '{\n  "model" : "alias" ,\n  "n": 1\n}',
      '{}',
    ];
    const sets: Record<string, string>[] = [{ model: '"first"' }, { model: '"first"', stream_options: '{"include_usage":true}' }, { stream_options: '{"x":1,"include_usage":true}', model: '"first"' }];
    for (const text of texts) {
      for (const set of sets) {
        const first = withTopLevel(text, set);
        expect(first, text).not.toBeNull();
        const model = '"fallback-model"';
        expect(withTopLevel(first!, { model }), `${text} ${JSON.stringify(set)}`).toBe(withTopLevel(text, { ...set, model }));
      }
    }
  });
});
