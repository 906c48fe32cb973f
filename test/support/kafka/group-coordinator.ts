// Test fixture only (docker-compose runs the real Kafka in production): the classic consumer
// group protocol state machine (Empty -> PreparingRebalance -> CompletingRebalance -> Stable),
// with generation ids, leader election, KIP-394 member ids, session and rebalance timeouts.
// Committed offsets live apart from membership: a broker stop() forgets members (they rejoin,
// as after a coordinator failover) but keeps offsets, like __consumer_offsets would.
import { randomUUID } from 'node:crypto';
import { ERROR, type ErrorCode } from './errors.ts';

type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinRequest {
  groupId: string;
  clientId: string;
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
}

export interface JoinResult {
  errorCode: ErrorCode;
  generationId: number;
  protocolName: string;
  leaderId: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: ErrorCode;
  assignment: Buffer;
}

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
}

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: GroupProtocol[];
  assignment: Buffer;
  pendingJoin?: (r: JoinResult) => void;
  pendingSync?: (r: SyncResult) => void;
  sessionTimer?: NodeJS.Timeout;
}

interface Group {
  id: string;
  state: GroupState;
  generationId: number;
  protocolType: string | null;
  protocolName: string;
  leaderId: string;
  members: Map<string, Member>;
  pendingMemberIds: Set<string>;
  rebalanceTimer?: NodeJS.Timeout;
}

const EMPTY = Buffer.alloc(0);

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private readonly offsets = new Map<string, Map<string, Map<number, CommittedOffset>>>();

  join(req: JoinRequest): Promise<JoinResult> {
    const fail = (errorCode: ErrorCode, memberId = req.memberId): Promise<JoinResult> =>
      Promise.resolve({ errorCode, generationId: -1, protocolName: '', leaderId: '', memberId, members: [] });
    if (!req.groupId) return fail(ERROR.INVALID_GROUP_ID);
    const group = this.group(req.groupId);
    const supported = group.members.size === 0 || this.commonProtocol(group, req.protocols) !== undefined;
    if ((group.protocolType !== null && group.members.size > 0 && group.protocolType !== req.protocolType) || !supported) {
      return fail(ERROR.INCONSISTENT_GROUP_PROTOCOL);
    }
    if (req.memberId === '') {
      // KIP-394: hand out an id first; the client must come back with it.
      const memberId = `${req.clientId}-${randomUUID()}`;
      group.pendingMemberIds.add(memberId);
      return fail(ERROR.MEMBER_ID_REQUIRED, memberId);
    }
    let member = group.members.get(req.memberId);
    if (!member) {
      if (!group.pendingMemberIds.delete(req.memberId)) return fail(ERROR.UNKNOWN_MEMBER_ID);
      member = { memberId: req.memberId, groupInstanceId: null, sessionTimeoutMs: 0, rebalanceTimeoutMs: 0, protocols: [], assignment: EMPTY };
      group.members.set(member.memberId, member);
    }
    Object.assign(member, {
      groupInstanceId: req.groupInstanceId,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocols: req.protocols,
    });
    group.protocolType = req.protocolType;
    const joined = member;
    return new Promise((resolve) => {
      joined.pendingJoin?.({ errorCode: ERROR.REBALANCE_IN_PROGRESS, generationId: -1, protocolName: '', leaderId: '', memberId: joined.memberId, members: [] });
      joined.pendingJoin = resolve;
      this.touch(group, joined);
      if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
      else this.prepareRebalance(group);
    });
  }

  sync(groupId: string, generationId: number, memberId: string, assignments: Map<string, Buffer>): Promise<SyncResult> {
    const fail = (errorCode: ErrorCode): Promise<SyncResult> => Promise.resolve({ errorCode, assignment: EMPTY });
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return fail(ERROR.UNKNOWN_MEMBER_ID);
    if (generationId !== group.generationId) return fail(ERROR.ILLEGAL_GENERATION);
    if (group.state === 'PreparingRebalance') return fail(ERROR.REBALANCE_IN_PROGRESS);
    this.touch(group, member);
    if (group.state === 'Stable') return Promise.resolve({ errorCode: ERROR.NONE, assignment: member.assignment });
    return new Promise((resolve) => {
      member.pendingSync = resolve;
      if (memberId !== group.leaderId) return;
      for (const m of group.members.values()) m.assignment = assignments.get(m.memberId) ?? EMPTY;
      group.state = 'Stable';
      for (const m of group.members.values()) {
        m.pendingSync?.({ errorCode: ERROR.NONE, assignment: m.assignment });
        delete m.pendingSync;
      }
    });
  }

  heartbeat(groupId: string, generationId: number, memberId: string): ErrorCode {
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return ERROR.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ERROR.ILLEGAL_GENERATION;
    this.touch(group, member);
    return group.state === 'PreparingRebalance' ? ERROR.REBALANCE_IN_PROGRESS : ERROR.NONE;
  }

  leave(groupId: string, memberId: string): ErrorCode {
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return ERROR.UNKNOWN_MEMBER_ID;
    this.removeMember(group, member);
    return ERROR.NONE;
  }

  /** generationId -1 with an empty member id is a "simple" commit from outside the group. */
  commit(groupId: string, generationId: number, memberId: string, entries: { topic: string; partition: number; offset: CommittedOffset }[]): ErrorCode {
    if (!groupId) return ERROR.INVALID_GROUP_ID;
    if (generationId !== -1 || memberId !== '') {
      const group = this.groups.get(groupId);
      const member = group?.members.get(memberId);
      if (!group || !member) return ERROR.UNKNOWN_MEMBER_ID;
      if (generationId !== group.generationId) return ERROR.ILLEGAL_GENERATION;
      // Kafka accepts commits of the current generation while preparing a rebalance, so members
      // can commit before rejoining; only the window between join and sync is refused.
      if (group.state === 'CompletingRebalance') return ERROR.REBALANCE_IN_PROGRESS;
      this.touch(group, member);
    }
    const byTopic = this.offsets.get(groupId) ?? new Map<string, Map<number, CommittedOffset>>();
    this.offsets.set(groupId, byTopic);
    for (const e of entries) {
      const byPartition = byTopic.get(e.topic) ?? new Map<number, CommittedOffset>();
      byTopic.set(e.topic, byPartition);
      byPartition.set(e.partition, e.offset);
    }
    return ERROR.NONE;
  }

  committed(groupId: string): Map<string, Map<number, CommittedOffset>> {
    return this.offsets.get(groupId) ?? new Map<string, Map<number, CommittedOffset>>();
  }

  /** Forget all membership (broker stop); pending joins/syncs belong to connections being dropped. */
  reset(): void {
    for (const group of this.groups.values()) {
      clearTimeout(group.rebalanceTimer);
      for (const m of group.members.values()) clearTimeout(m.sessionTimer);
    }
    this.groups.clear();
  }

  private group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (!group) {
      group = { id: groupId, state: 'Empty', generationId: 0, protocolType: null, protocolName: '', leaderId: '', members: new Map(), pendingMemberIds: new Set() };
      this.groups.set(groupId, group);
    }
    return group;
  }

  private touch(group: Group, member: Member): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      if (group.members.get(member.memberId) !== member) return;
      // A member parked in JoinGroup is alive by definition; the rebalance timeout governs it.
      if (member.pendingJoin) this.touch(group, member);
      else this.removeMember(group, member);
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private removeMember(group: Group, member: Member): void {
    clearTimeout(member.sessionTimer);
    group.members.delete(member.memberId);
    member.pendingJoin?.({ errorCode: ERROR.UNKNOWN_MEMBER_ID, generationId: -1, protocolName: '', leaderId: '', memberId: member.memberId, members: [] });
    member.pendingSync?.({ errorCode: ERROR.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
    else if (group.state !== 'Empty') this.prepareRebalance(group);
  }

  private prepareRebalance(group: Group): void {
    for (const m of group.members.values()) {
      m.pendingSync?.({ errorCode: ERROR.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      delete m.pendingSync;
    }
    group.state = 'PreparingRebalance';
    clearTimeout(group.rebalanceTimer);
    const timeout = Math.max(0, ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs));
    group.rebalanceTimer = setTimeout(() => this.completeJoin(group), timeout);
    group.rebalanceTimer.unref();
    this.maybeCompleteJoin(group);
  }

  private maybeCompleteJoin(group: Group): void {
    if ([...group.members.values()].every((m) => m.pendingJoin)) this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    clearTimeout(group.rebalanceTimer);
    for (const m of [...group.members.values()]) {
      if (m.pendingJoin) continue;
      clearTimeout(m.sessionTimer);
      group.members.delete(m.memberId);
    }
    group.generationId++;
    if (group.members.size === 0) {
      Object.assign(group, { state: 'Empty', protocolName: '', leaderId: '', protocolType: null });
      return;
    }
    const members = [...group.members.values()];
    if (!group.members.has(group.leaderId)) group.leaderId = members[0]!.memberId;
    group.protocolName = this.commonProtocol(group, group.members.get(group.leaderId)!.protocols) ?? '';
    group.state = 'CompletingRebalance';
    const all = members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY,
    }));
    for (const m of members) {
      const resolve = m.pendingJoin!;
      delete m.pendingJoin;
      m.assignment = EMPTY;
      this.touch(group, m);
      resolve({
        errorCode: ERROR.NONE,
        generationId: group.generationId,
        protocolName: group.protocolName,
        leaderId: group.leaderId,
        memberId: m.memberId,
        members: m.memberId === group.leaderId ? all : [],
      });
    }
  }

  /** First of `preferred` that every current member supports. */
  private commonProtocol(group: Group, preferred: GroupProtocol[]): string | undefined {
    return preferred.find((p) => [...group.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)))?.name;
  }
}
