// The alert state machine, pure: per rule and subject (a key, a team, a provider, the rule's
// whole scope), ok → firing when the condition holds, firing → ok when it clears. Each
// transition is emitted once (fired, then resolved); while firing nothing more is sent. After
// a firing, the same rule and subject cannot fire again until `cooldownMs` has passed, so a
// condition flapping around its threshold sends one pair of messages per cooldown, not one
// per tick. The state lives in alert_events (the newest transition per subject), so whichever
// proxy evaluates next continues where the last one stopped.

export type AlertPhase = 'ok' | 'firing';

export interface InstanceState {
  phase: AlertPhase;
  /** The current (or last) incident: one fired/resolved pair shares it. */
  incidentId: string;
  /** Epoch ms of the last firing, or null if never fired. */
  firedAt: number | null;
}

export interface Observation {
  subject: string;
  value: number;
  breached: boolean;
  /** A sentence for people: what was measured against what. */
  message: string;
}

export interface Transition {
  kind: 'fired' | 'resolved';
  subject: string;
  incidentId: string;
  value: number;
  message: string;
}

export const OK: InstanceState = { phase: 'ok', incidentId: '', firedAt: null };

/** One tick for one subject: the next state and the transition to record, if any. */
export function step(prev: InstanceState, obs: Observation, now: number, cooldownMs: number, newId: () => string): { next: InstanceState; transition: Transition | null } {
  if (prev.phase === 'ok') {
    if (!obs.breached) return { next: prev, transition: null };
    if (prev.firedAt !== null && now - prev.firedAt < cooldownMs) return { next: prev, transition: null };
    const incidentId = newId();
    return { next: { phase: 'firing', incidentId, firedAt: now }, transition: { kind: 'fired', subject: obs.subject, incidentId, value: obs.value, message: obs.message } };
  }
  if (obs.breached) return { next: prev, transition: null };
  return { next: { ...prev, phase: 'ok' }, transition: { kind: 'resolved', subject: obs.subject, incidentId: prev.incidentId, value: obs.value, message: obs.message } };
}

/**
 * Every subject of a rule for one tick: those observed now, plus those firing before that were
 * not observed (no calls any more in the window: the condition has cleared).
 */
export function stepRule(
  states: ReadonlyMap<string, InstanceState>,
  observations: readonly Observation[],
  now: number,
  cooldownMs: number,
  newId: () => string,
): { states: Map<string, InstanceState>; transitions: Transition[] } {
  const next = new Map(states);
  const transitions: Transition[] = [];
  const seen = new Set<string>();
  const apply = (obs: Observation): void => {
    const r = step(states.get(obs.subject) ?? OK, obs, now, cooldownMs, newId);
    next.set(obs.subject, r.next);
    if (r.transition) transitions.push(r.transition);
  };
  for (const obs of observations) {
    seen.add(obs.subject);
    apply(obs);
  }
  for (const [subject, st] of states) {
    if (st.phase === 'firing' && !seen.has(subject)) apply({ subject, value: 0, breached: false, message: 'no data in the window any more' });
  }
  return { states: next, transitions };
}
