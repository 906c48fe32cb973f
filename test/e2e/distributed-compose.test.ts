// docker-compose.yml cannot run on CI machines (no docker): this checks what can be checked
// without it — the file parses, every service has a health check or is a one-shot, every
// file it mounts or runs exists, and the gatelog config it uses is valid for each service.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@gatelog/core';

const ROOT = join(import.meta.dirname, '..', '..');

interface Service {
  image?: string;
  command?: string[];
  entrypoint?: string[];
  volumes?: string[];
  healthcheck?: unknown;
  restart?: string;
  environment?: Record<string, string>;
}

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };

  it('has the distributed services, each health-checked or one-shot', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['clickhouse', 'ingest', 'kafka', 'kafka-init', 'proxy', 'redis', 'ui']);
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.image, name).toBeTruthy();
      expect(s.healthcheck !== undefined || s.restart === 'no', name).toBe(true);
    }
  });

  it('refers only to files that exist', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const host = v.split(':')[0]!;
        if (host.startsWith('./')) expect(existsSync(join(ROOT, host)), `${name}: ${v}`).toBe(true);
      }
      for (const arg of [...(s.command ?? []), ...(s.entrypoint ?? [])]) {
        if (/^(proxy|ingest)\/src\/.+\.ts$/.test(arg)) expect(existsSync(join(ROOT, arg)), `${name}: ${arg}`).toBe(true);
        if (arg.startsWith('/docker/')) expect(existsSync(join(ROOT, 'docker', arg.slice('/docker/'.length))), `${name}: ${arg}`).toBe(true);
      }
      const cfg = s.environment?.['GATELOG_CONFIG'];
      if (cfg) expect(existsSync(join(ROOT, cfg.replace(/^\/app\//, ''))), `${name}: ${cfg}`).toBe(true);
    }
  });

  it('gives every service a valid gatelog config from its environment', () => {
    const file = join(ROOT, 'docker/gatelog.distributed.yaml');
    const { config } = loadConfig({ path: file, env: { GATELOG_CLICKHOUSE_PASSWORD: 'secret-1', GATELOG_CLICKHOUSE_USER: 'gatelog_ui' } });
    expect(config.bus).toMatchObject({ kind: 'kafka', brokers: ['kafka:9092'], topic: 'gatelog.events' });
    expect(config.storage.clickhouse).toMatchObject({ url: 'http://clickhouse:8123', username: 'gatelog_ui', password: 'secret-1' });
    const users = readFileSync(join(ROOT, 'docker/clickhouse/users.d/gatelog.xml'), 'utf8');
    expect(users).toMatch(/<gatelog_ui>[\s\S]*<profile>gatelog_readonly<\/profile>/);
  });
});
