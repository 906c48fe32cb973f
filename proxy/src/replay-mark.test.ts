import { describe, expect, it } from 'vitest';
import { createReplayMark, REPLAY_HEADER } from './replay-mark.ts';

const ID = '01a238ce-5a01-7279-9868-ad27789a02f7';

describe('replay mark', () => {
  it('reads back what this process minted, team and key included', () => {
    const m = createReplayMark();
    expect(m.read({ [REPLAY_HEADER]: m.header({ requestId: ID, team: 'red.team/ü', keyId: 'key.1/x' }) })).toEqual({ requestId: ID, team: 'red.team/ü', keyId: 'key.1/x' });
    expect(m.read({ [REPLAY_HEADER]: m.header({ requestId: ID, team: '', keyId: '' }) })).toEqual({ requestId: ID, team: '', keyId: '' });
  });

  it('ignores a mark a client forged or another process minted', () => {
    const m = createReplayMark();
    const other = createReplayMark();
    expect(m.read({ [REPLAY_HEADER]: other.header({ requestId: ID, team: '', keyId: '' }) })).toBeUndefined();
    expect(m.read({ [REPLAY_HEADER]: `${'0'.repeat(48)}.${ID}.` })).toBeUndefined();
    expect(m.read({ [REPLAY_HEADER]: ID })).toBeUndefined();
    expect(m.read({})).toBeUndefined();
    const good = m.header({ requestId: ID, team: '', keyId: '' });
    expect(m.read({ [REPLAY_HEADER]: good.replace(ID, 'not-a-uuid') })).toBeUndefined();
  });
});
