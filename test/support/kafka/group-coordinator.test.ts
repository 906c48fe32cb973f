// Test fixture only: the consumer group state machine driven directly, with short timeouts.
import { describe, expect, it } from 'vitest';
import { ERROR } from './errors.ts';
import { GroupCoordinator, type JoinRequest } from './group-coordinator.ts';

const protocols = [{ name: 'RoundRobinAssigner', metadata: Buffer.from('m') }];

function request(memberId: string, overrides: Partial<JoinRequest> = {}): JoinRequest {
  return { groupId: 'g', clientId: 'c', memberId, groupInstanceId: null, sessionTimeoutMs: 5_000, rebalanceTimeoutMs: 5_000, protocolType: 'consumer', protocols, ...overrides };
}

async function newMember(groups: GroupCoordinator, overrides: Partial<JoinRequest> = {}): Promise<string> {
  const first = await groups.join(request('', overrides));
  expect(first.errorCode).toBe(ERROR.MEMBER_ID_REQUIRED);
  return first.memberId;
}

describe('GroupCoordinator', () => {
  it('elects a leader, bumps generations and hands out the leader assignment', async () => {
    const groups = new GroupCoordinator();
    const a = await newMember(groups);
    const joinA = await groups.join(request(a));
    expect(joinA).toMatchObject({ errorCode: ERROR.NONE, generationId: 1, leaderId: a, protocolName: 'RoundRobinAssigner' });
    expect(joinA.members.map((m) => m.memberId)).toEqual([a]);
    expect(await groups.sync('g', 1, a, new Map([[a, Buffer.from('all')]]))).toEqual({ errorCode: ERROR.NONE, assignment: Buffer.from('all') });
    expect(groups.heartbeat('g', 1, a)).toBe(ERROR.NONE);

    // B joining forces a rebalance: A learns it from its heartbeat and rejoins.
    const b = await newMember(groups);
    const joinB = groups.join(request(b));
    expect(groups.heartbeat('g', 1, a)).toBe(ERROR.REBALANCE_IN_PROGRESS);
    const rejoinA = await groups.join(request(a));
    const joinedB = await joinB;
    expect(rejoinA).toMatchObject({ generationId: 2, leaderId: a });
    expect(rejoinA.members.map((m) => m.memberId).sort()).toEqual([a, b].sort());
    expect(joinedB).toMatchObject({ generationId: 2, leaderId: a, members: [] });

    // The follower's SyncGroup waits for the leader's.
    const syncB = groups.sync('g', 2, b, new Map());
    const syncA = await groups.sync('g', 2, a, new Map([[a, Buffer.from('p0')], [b, Buffer.from('p1')]]));
    expect(syncA.assignment.toString()).toBe('p0');
    expect((await syncB).assignment.toString()).toBe('p1');
    expect(groups.heartbeat('g', 1, b)).toBe(ERROR.ILLEGAL_GENERATION);

    // A leaves: B becomes leader of generation 3.
    expect(groups.leave('g', a)).toBe(ERROR.NONE);
    expect(groups.heartbeat('g', 2, b)).toBe(ERROR.REBALANCE_IN_PROGRESS);
    expect(await groups.join(request(b))).toMatchObject({ generationId: 3, leaderId: b });
    groups.reset();
  });

  it('removes a member whose session expires and refuses unknown member ids', async () => {
    const groups = new GroupCoordinator();
    const a = await newMember(groups, { sessionTimeoutMs: 50 });
    await groups.join(request(a, { sessionTimeoutMs: 50 }));
    await groups.sync('g', 1, a, new Map());
    await new Promise((r) => setTimeout(r, 120));
    expect(groups.heartbeat('g', 1, a)).toBe(ERROR.UNKNOWN_MEMBER_ID);
    expect((await groups.join(request('never-issued'))).errorCode).toBe(ERROR.UNKNOWN_MEMBER_ID);
    groups.reset();
  });

  it('drops members that do not rejoin within the rebalance timeout', async () => {
    const groups = new GroupCoordinator();
    const a = await newMember(groups, { rebalanceTimeoutMs: 80 });
    await groups.join(request(a, { rebalanceTimeoutMs: 80 }));
    await groups.sync('g', 1, a, new Map());
    const b = await newMember(groups, { rebalanceTimeoutMs: 80 });
    const started = Date.now();
    const joinB = await groups.join(request(b, { rebalanceTimeoutMs: 80 })); // A never rejoins
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    expect(joinB).toMatchObject({ errorCode: ERROR.NONE, generationId: 2, leaderId: b });
    expect(joinB.members.map((m) => m.memberId)).toEqual([b]);
    groups.reset();
  });

  it('keeps committed offsets across reset and checks the generation of member commits', async () => {
    const groups = new GroupCoordinator();
    const a = await newMember(groups);
    await groups.join(request(a));
    const entry = { topic: 't', partition: 0, offset: { offset: 5, metadata: null } };
    expect(groups.commit('g', 7, a, [entry])).toBe(ERROR.ILLEGAL_GENERATION);
    expect(groups.commit('g', 1, a, [entry])).toBe(ERROR.REBALANCE_IN_PROGRESS); // between join and sync
    await groups.sync('g', 1, a, new Map());
    expect(groups.commit('g', 1, a, [entry])).toBe(ERROR.NONE);
    expect(groups.commit('g', -1, '', [{ ...entry, partition: 1 }])).toBe(ERROR.NONE);
    groups.reset();
    expect([...groups.committed('g').get('t')!].map(([p, c]) => [p, c.offset])).toEqual([[0, 5], [1, 5]]);
  });
});
