import { describe, expect, it } from 'vitest';
import { startTogether } from './start-together.ts';

const later = <T>(ms: number, value: T): Promise<T> => new Promise((r) => setTimeout(() => r(value), ms));
const failLater = (ms: number, err: Error): Promise<never> => new Promise((_, reject) => setTimeout(() => reject(err), ms));

describe('startTogether', () => {
  it('gives every started value in order and stops none when all start', async () => {
    const stopped: string[] = [];
    const started = await startTogether(
      [later(30, 'browser'), (b) => void stopped.push(b)],
      [later(5, 42), (n) => void stopped.push(String(n))],
      [Promise.resolve({ url: 'http://gatelog' }), () => void stopped.push('gatelog')],
    );
    expect(started).toEqual(['browser', 42, { url: 'http://gatelog' }]);
    expect(stopped).toEqual([]);
  });

  it('when a start fails, stops every one that started, after it started, before the failure is thrown', async () => {
    const refused = new Error('chromium did not launch');
    const stopped: string[] = [];
    const stop = (name: string) => async (): Promise<void> => {
      await later(20, undefined);
      stopped.push(name);
    };
    // The failure comes first: the others are still starting when it is known.
    const attempt = startTogether(
      [later(40, 'gatelog'), stop('gatelog')],
      [failLater(1, refused)],
      [later(60, 'second gatelog'), stop('second gatelog')],
      [later(10, 'idp')],
    );
    await expect(attempt).rejects.toBe(refused);
    expect(stopped.sort()).toEqual(['gatelog', 'second gatelog']);
  });

  it('throws the failure of the first start given that failed, not a stop that failed in its wake', async () => {
    const first = new Error('first');
    const stopping = new Error('stop failed');
    let stops = 0;
    const attempt = startTogether(
      [later(5, 'a'), () => {
        stops++;
        throw stopping;
      }],
      [failLater(20, first)],
      [later(5, 'b'), async () => {
        stops++;
        await Promise.reject(stopping);
      }],
      [failLater(1, new Error('second'))],
    );
    await expect(attempt).rejects.toBe(first);
    expect(stops).toBe(2);
  });
});
