import { describe, expect, it } from 'vitest';
import { OK, step, stepRule, type InstanceState, type Observation } from './state.ts';

let n = 0;
const id = (): string => `inc-${++n}`;
const obs = (breached: boolean, subject = 'all'): Observation => ({ subject, value: breached ? 1 : 0, breached, message: '' });
const MIN = 60_000;

describe('alert state machine', () => {
  it('fires once while the condition holds, resolves once when it clears', () => {
    let st: InstanceState = OK;
    const kinds: string[] = [];
    const seq = [false, true, true, true, false, false];
    seq.forEach((b, i) => {
      const r = step(st, obs(b), i * MIN, 10 * MIN, id);
      st = r.next;
      if (r.transition) kinds.push(r.transition.kind);
    });
    expect(kinds).toEqual(['fired', 'resolved']);
    expect(st.phase).toBe('ok');
  });

  it('a resolved incident shares the id of its firing', () => {
    const f = step(OK, obs(true), 0, 0, id);
    const r = step(f.next, obs(false), 1, 0, id);
    expect(f.transition?.incidentId).toBeTruthy();
    expect(r.transition?.incidentId).toBe(f.transition?.incidentId);
  });

  it('a flapping condition fires again only after the cooldown', () => {
    let st: InstanceState = OK;
    const fired: number[] = [];
    for (let t = 0; t < 30; t++) {
      const r = step(st, obs(t % 2 === 0), t * MIN, 10 * MIN, id);
      st = r.next;
      if (r.transition?.kind === 'fired') fired.push(t);
    }
    expect(fired).toEqual([0, 10, 20]);
  });

  it('cooldown 0 fires on every new breach', () => {
    let st: InstanceState = OK;
    let fired = 0;
    for (let t = 0; t < 6; t++) {
      const r = step(st, obs(t % 2 === 0), t, 0, id);
      st = r.next;
      if (r.transition?.kind === 'fired') fired++;
    }
    expect(fired).toBe(3);
  });

  it('a firing subject that is no longer observed resolves; others are independent', () => {
    const states = new Map<string, InstanceState>([['provider=a', { phase: 'firing', incidentId: 'x', firedAt: 0 }]]);
    const r = stepRule(states, [obs(true, 'provider=b')], MIN, MIN, id);
    expect(r.transitions.map((t) => `${t.kind}:${t.subject}`).sort()).toEqual(['fired:provider=b', 'resolved:provider=a']);
    expect(r.states.get('provider=a')?.phase).toBe('ok');
    const again = stepRule(r.states, [obs(true, 'provider=b')], 2 * MIN, MIN, id);
    expect(again.transitions).toEqual([]);
  });
});
