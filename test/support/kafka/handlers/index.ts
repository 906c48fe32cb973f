// Test fixture only (docker-compose runs the real Kafka in production): the APIs this broker
// serves, one pinned version each (ApiVersions aside), all non-flexible - kafkajs 2.2.4's
// highest versions, none of which use tagged fields.
import type { ApiHandler } from '../handler-types.ts';
import { apiVersions } from './api-versions.ts';
import { createTopics } from './create-topics.ts';
import { fetch } from './fetch.ts';
import { findCoordinator } from './find-coordinator.ts';
import { heartbeat, joinGroup, leaveGroup, syncGroup } from './group-membership.ts';
import { initProducerId } from './init-producer-id.ts';
import { metadata } from './metadata.ts';
import { listOffsets, offsetCommit, offsetFetch } from './offsets.ts';
import { produce } from './produce.ts';

export const API_HANDLERS: readonly ApiHandler[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  offsetCommit,
  offsetFetch,
  findCoordinator,
  joinGroup,
  heartbeat,
  leaveGroup,
  syncGroup,
  apiVersions,
  createTopics,
  initProducerId,
];
