// Test fixture only (docker-compose runs the real Kafka in production): wire formats of
// JoinGroup v5, SyncGroup v3, Heartbeat v3 and LeaveGroup v3. The state machine itself lives
// in group-coordinator.ts; JoinGroup and SyncGroup answers are deferred until it decides.
import type { ApiHandler } from '../handler-types.ts';
import { ProtocolWriter } from '../protocol-writer.ts';

export const joinGroup: ApiHandler = {
  apiKey: 11,
  name: 'JoinGroup',
  minVersion: 5,
  maxVersion: 5,
  async handle(broker, req, r) {
    const result = await broker.groups.join({
      groupId: r.string(),
      sessionTimeoutMs: r.int32(),
      rebalanceTimeoutMs: r.int32(),
      memberId: r.string(),
      groupInstanceId: r.nullableString(),
      protocolType: r.string(),
      protocols: r.array((x) => ({ name: x.string(), metadata: x.bytes() })),
      clientId: req.clientId,
    });
    const w = new ProtocolWriter().int32(0).int16(result.errorCode).int32(result.generationId);
    w.string(result.protocolName).string(result.leaderId).string(result.memberId);
    return w.array(result.members, (x, m) => x.string(m.memberId).string(m.groupInstanceId).bytes(m.metadata));
  },
};

export const syncGroup: ApiHandler = {
  apiKey: 14,
  name: 'SyncGroup',
  minVersion: 3,
  maxVersion: 3,
  async handle(broker, _req, r) {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    r.nullableString(); // group instance id: static membership is not modelled
    const assignments = new Map(r.array((x) => [x.string(), x.bytes()] as const));
    const result = await broker.groups.sync(groupId, generationId, memberId, assignments);
    return new ProtocolWriter().int32(0).int16(result.errorCode).bytes(result.assignment);
  },
};

export const heartbeat: ApiHandler = {
  apiKey: 12,
  name: 'Heartbeat',
  minVersion: 3,
  maxVersion: 3,
  handle(broker, _req, r) {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    r.nullableString(); // group instance id
    return new ProtocolWriter().int32(0).int16(broker.groups.heartbeat(groupId, generationId, memberId));
  },
};

export const leaveGroup: ApiHandler = {
  apiKey: 13,
  name: 'LeaveGroup',
  minVersion: 3,
  maxVersion: 3,
  handle(broker, _req, r) {
    const groupId = r.string();
    const members = r.array((x) => ({ memberId: x.string(), groupInstanceId: x.nullableString() }));
    const w = new ProtocolWriter().int32(0).int16(0);
    return w.array(members, (x, m) =>
      x.string(m.memberId).string(m.groupInstanceId).int16(broker.groups.leave(groupId, m.memberId)),
    );
  },
};
