// The deployment files, checked without Docker or a cluster: the Dockerfile's essentials (Node
// 24, pnpm from the lockfile at build time, the UI built at build time, production
// dependencies, a non-root numeric user, a node HEALTHCHECK, nothing installed at start), the
// compose file's gatelog services (the one image, health-gated start order, Redis, the UI's
// read-only user and admin URL, a spool volume per proxy), and every manifest in deploy/k8s (each
// kind's required fields and every reference between them, and each proxy's spool on a volume
// claim of its own). Broken copies prove the checks can fail.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '@gatelog/core';
import { ROOT, dockerfileStages, imageRuntime, readCompose } from './compose-processes.ts';
import { usersFromXml } from './clickhouse-users.ts';
import { bytesOf, checkManifests, checkSpool, loadManifests, type Manifest, type SpoolRule } from './k8s-check.ts';

const K8S = join(ROOT, 'deploy/k8s');
const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = dockerfileStages(text);
const runtime = stages.at(-1)!;
const runs = stages.flatMap((s) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args));
const entrypointJs = readFileSync(join(ROOT, 'docker/entrypoint.mjs'), 'utf8');
/** The services docker/entrypoint.mjs dispatches to, and the files they run. */
const SERVICES = Object.fromEntries([...entrypointJs.matchAll(/(\w+): '([^']+\.(?:ts|js|mjs))'/g)].map((m) => [m[1]!, m[2]!]));

describe('Dockerfile', () => {
  it('builds every stage from node:24-bookworm-slim (or an earlier stage)', () => {
    const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
    expect(arg).toBe('node:24-bookworm-slim');
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const names = new Set<string>();
    for (const s of stages) {
      const from = s.from.replace('${NODE_IMAGE}', arg!);
      expect(from === 'node:24-bookworm-slim' || names.has(from), s.from).toBe(true);
      if (s.name) names.add(s.name);
    }
  });

  it('installs pnpm with npm and dependencies from the lockfile, at build time only', () => {
    expect(runs.some((r) => /npm i(nstall)? -g pnpm@10\b/.test(r))).toBe(true);
    expect(runs.join('\n')).not.toMatch(/corepack/i);
    const installs = runs.filter((r) => /pnpm install/.test(r));
    expect(installs.length).toBeGreaterThanOrEqual(2);
    for (const r of installs) expect(r).toContain('--frozen-lockfile');
    // The runtime stage copies production dependencies (installed with --prod) and builds nothing.
    const prodStage = stages.find((s) => s.instructions.some((i) => i.op === 'RUN' && /pnpm install .*--prod/.test(i.args)));
    expect(prodStage?.name).toBeTruthy();
    expect(runtime.instructions.some((i) => i.op === 'COPY' && i.args.includes(`--from=${prodStage!.name}`))).toBe(true);
    expect(runtime.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n')).not.toMatch(/pnpm|npm|npx|vite/);
  });

  it('builds the UI at build time and ships the build', () => {
    const uiStage = stages.find((s) => s.instructions.some((i) => i.op === 'RUN' && /pnpm --filter @gatelog\/ui run build/.test(i.args)));
    expect(uiStage?.name).toBeTruthy();
    expect(runtime.instructions.some((i) => i.op === 'COPY' && i.args.includes(`--from=${uiStage!.name}`) && i.args.includes('ui/build'))).toBe(true);
    // The UI service's server mounts the build's handler.
    expect(SERVICES['ui']).toBe('docker/ui-server.mjs');
    expect(readFileSync(join(ROOT, SERVICES['ui']!), 'utf8')).toContain("'handler.js'");
    expect(runtime.instructions.some((i) => i.op === 'COPY' && i.args.includes(SERVICES['ui']!))).toBe(true);
  });

  it('runs as a numeric non-root user, health-checked with node against /healthz', () => {
    const user = runtime.instructions.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    const hc = runtime.instructions.filter((i) => i.op === 'HEALTHCHECK').at(-1)?.args ?? '';
    expect(hc).toMatch(/CMD \["node", "\/app\/docker\/healthcheck\.mjs"\]/);
    expect(readFileSync(join(ROOT, 'docker/healthcheck.mjs'), 'utf8')).toContain('/healthz');
    expect(text).not.toMatch(/\bcurl\b|\bwget\b/);
  });

  it('starts a service without installing anything: the entrypoint picks proxy, ingest, ui or the CLI', () => {
    const entry = runtime.instructions.filter((i) => i.op === 'ENTRYPOINT').at(-1)?.args ?? '[]';
    const cmd = runtime.instructions.filter((i) => i.op === 'CMD').at(-1)?.args ?? '[]';
    expect(JSON.parse(entry)).toEqual(['node', '/app/docker/entrypoint.mjs']);
    expect(JSON.parse(cmd)).toEqual(['start']);
    expect(`${entry} ${cmd} ${entrypointJs}`).not.toMatch(/install|pnpm|spawn|exec/);
    expect(Object.keys(SERVICES).sort()).toEqual(['ingest', 'proxy', 'ui']);
    for (const f of Object.values(SERVICES)) expect(existsSync(join(ROOT, f)), f).toBe(true);
    expect(entrypointJs).toContain("'src/cli.ts'");
  });

  it('copies only paths that exist and that .dockerignore lets through', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const p of ['**/node_modules', '.git', '.runtime', 'data', '.env']) expect(ignore).toContain(p);
    for (const s of stages) {
      for (const c of s.instructions.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
        const parts = c.args.split(/\s+/).filter((a) => !a.startsWith('--'));
        for (const src of parts.slice(0, -1).filter((p) => p !== '.')) {
          expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
          expect(ignore.includes(src.replace(/\/$/, '').split('/')[0]!), `COPY ${src} is excluded by .dockerignore`).toBe(false);
        }
      }
    }
  });
});

describe('docker-compose.yml', () => {
  const env = { GATELOG_MASTER_KEY: 'master-key-1', GATELOG_CLICKHOUSE_PASSWORD: 'rw-secret', GATELOG_CLICKHOUSE_UI_PASSWORD: 'ro-secret' };
  const services = readCompose(env);
  const gatelog = Object.entries(services).filter(([, s]) => s.build !== undefined);

  it('runs every gatelog service from the one image, with nothing installed at start', () => {
    expect(gatelog.map(([n]) => n).sort()).toEqual(['ingest', 'proxy', 'ui']);
    for (const [name, s] of gatelog) {
      expect(s.build, name).toBe('.');
      expect(s.image, name).toBe(gatelog[0]![1].image);
      expect(s.command?.length, name).toBe(1);
      expect(Object.keys(SERVICES), name).toContain(s.command![0]);
      expect(JSON.stringify(s), name).not.toMatch(/install|corepack|\.:\/app/);
    }
    expect(JSON.stringify(services)).not.toMatch(/pnpm/);
  });

  it('health-checks every long-running service and starts each after what it needs is healthy', () => {
    for (const [name, s] of Object.entries(services)) {
      const raw = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { restart?: string }> };
      if (raw.services[name]?.restart !== 'no') expect(s.healthcheck?.test.length, name).toBeGreaterThan(0);
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        expect(['service_healthy', 'service_completed_successfully'], `${name} → ${dep}`).toContain(condition);
        if (condition === 'service_healthy') expect(services[dep]!.healthcheck, `${dep} has no healthcheck`).toBeDefined();
      }
    }
    for (const [name, s] of gatelog) expect(s.healthcheck!.test.slice(0, 3), name).toEqual(['CMD', 'node', '/app/docker/healthcheck.mjs']);
  });

  it('shares the proxies’ counters through Redis; the UI reads as a read-only user and writes through the admin API', () => {
    expect(services['redis']?.image).toBe('redis:7');
    expect(services['proxy']?.depends_on?.['redis']?.condition).toBe('service_healthy');
    const configFor = (name: string): ReturnType<typeof loadConfig>['config'] => {
      const e = Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, String(v)]));
      return loadConfig({ path: join(ROOT, e['GATELOG_CONFIG']!.replace(/^\/app\//, '')), env: e }).config;
    };
    expect(configFor('proxy').state.redis).toBe('redis://redis:6379');
    const ui = services['ui']!.environment!;
    const users = usersFromXml();
    expect(users[String(ui['GATELOG_CLICKHOUSE_USER'])]?.readonly).toBe(true);
    expect(ui['GATELOG_CLICKHOUSE_PASSWORD']).toBe(env.GATELOG_CLICKHOUSE_UI_PASSWORD);
    expect(ui['GATELOG_ADMIN_URL']).toBe('http://proxy:4000');
    expect(configFor('ui').storage.clickhouse).toMatchObject({ username: 'gatelog_ui', password: 'ro-secret' });
    // Sign-in lockouts: one count for every UI replica.
    expect(configFor('ui').state.redis).toBe('redis://redis:6379');
    expect(services['ui']?.depends_on?.['redis']?.condition).toBe('service_healthy');
    for (const name of ['proxy', 'ingest']) {
      const ch = configFor(name).storage.clickhouse;
      expect(ch === 'embedded' ? undefined : users[ch.username]?.readonly, name).toBe(false);
    }
  });

  it('keeps each proxy’s spool on a volume of its own', () => {
    const proxy = services['proxy']!;
    const dataDir = String(proxy.environment?.['GATELOG_DATA_DIR'] ?? imageRuntime().env['GATELOG_DATA_DIR']);
    // Short syntax `[SOURCE:]TARGET[:MODE]`; no SOURCE is an anonymous volume, one per container.
    const mounts = (proxy.volumes ?? []).map((v) => {
      if (typeof v !== 'string') return v;
      const [first, second] = v.split(':');
      return second === undefined ? { source: undefined, target: first! } : { source: first, target: second };
    });
    const spool = mounts.find((m) => m.target === dataDir);
    expect(spool, `no volume at ${dataDir}`).toBeDefined();
    // A named volume (or a bind mount) would be one spool written by every replica of
    // `--scale proxy=N`; two writers corrupt it.
    expect(spool!.source, 'the spool volume must be anonymous: one per replica').toBeUndefined();
  });
});

describe('deploy/k8s', () => {
  const { manifests, problems: yamlProblems } = loadManifests(K8S);
  const kinds = (k: string): Manifest[] => manifests.filter((m) => m.doc['kind'] === k);

  it('parses, and every resource has its required fields and valid references', () => {
    expect(yamlProblems).toEqual([]);
    expect(checkManifests(manifests, K8S)).toEqual([]);
    const names = (k: string): string[] => kinds(k).map((m) => String((m.doc['metadata'] as { name: string }).name)).sort();
    expect(names('Deployment')).toEqual(['gatelog-ingest', 'gatelog-redis', 'gatelog-ui']);
    expect(names('StatefulSet')).toEqual(['gatelog-proxy']);
    expect(names('HorizontalPodAutoscaler')).toEqual(['gatelog-proxy']);
    expect(names('Service')).toEqual(['gatelog-ingest', 'gatelog-proxy', 'gatelog-proxy-pods', 'gatelog-redis', 'gatelog-ui']);
    expect(names('Secret')).toEqual(['gatelog-secrets']);
  });

  it('gives every gatelog container a service the image knows and an environment its gatelog.yaml loads with', () => {
    const cms = new Map(kinds('ConfigMap').map((m) => [(m.doc['metadata'] as { name: string }).name, (m.doc['data'] ?? {}) as Record<string, string>]));
    const secret = (kinds('Secret')[0]!.doc['stringData'] ?? {}) as Record<string, string>;
    let checked = 0;
    for (const d of [...kinds('Deployment'), ...kinds('StatefulSet')]) {
      const pod = (d.doc['spec'] as { template: { spec: { containers: { image: string; args?: string[]; env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string }; configMapKeyRef?: { name: string; key: string } } }[] }[] } } }).template.spec;
      for (const c of pod.containers.filter((x) => x.image === 'gatelog')) {
        expect(Object.keys(SERVICES)).toContain(c.args?.[0]);
        const env: Record<string, string> = {};
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.configMapKeyRef;
          env[e.name] = e.value ?? (ref ? cms.get(ref.name)![ref.key]! : (secret[e.valueFrom!.secretKeyRef!.key] || 'from-the-secret'));
        }
        expect(env['GATELOG_CONFIG']).toBe('/etc/gatelog/gatelog.yaml');
        const cfg = loadYamlConfig(cms.get('gatelog-config')!['gatelog.yaml']!, env);
        expect(cfg.bus.kind).toBe('kafka');
        expect(cfg.state.redis).toBe('redis://gatelog-redis:6379');
        if (c.args?.[0] === 'ui') expect(cfg.storage.clickhouse).toMatchObject({ username: 'gatelog_ui' });
        // The proxies' and ingest's /metrics take the master key: both have it.
        if (c.args?.[0] !== 'ui') expect(env['GATELOG_MASTER_KEY'], c.args?.[0]).toBeTruthy();
        // The same topics and consumer group as the compose deployment's gatelog.yaml.
        const compose = loadConfig({ path: join(ROOT, 'docker/gatelog.distributed.yaml'), env: { GATELOG_CLICKHOUSE_PASSWORD: 'x' } }).config;
        expect(cfg.bus).toMatchObject(compose.bus.kind === 'kafka' ? { topic: compose.bus.topic, group_id: compose.bus.group_id, dead_letter_topic: compose.bus.dead_letter_topic } : {});
        checked++;
      }
    }
    expect(checked).toBe(3);
  });

  /** The spool rule for these manifests: the image's data dir, and the configured bus.spool_max_bytes. */
  const spoolRule = (): SpoolRule => {
    const cfg = loadYamlConfig((kinds('ConfigMap').find((m) => (m.doc['metadata'] as { name: string }).name === 'gatelog-config')!.doc['data'] as Record<string, string>)['gatelog.yaml']!, {
      GATELOG_CLICKHOUSE_URL: 'http://ch:8123',
      GATELOG_KAFKA_BROKERS: 'kafka:9092',
      GATELOG_REDIS_URL: 'redis://r:6379',
      GATELOG_CLICKHOUSE_PASSWORD: 'x',
    });
    if (cfg.bus.kind !== 'kafka') throw new Error('the manifests must use Kafka');
    return { dataDirDefault: imageRuntime().env['GATELOG_DATA_DIR']!, spoolMaxBytes: cfg.bus.spool_max_bytes };
  };

  it('keeps each proxy’s spool on a volume claim of its own, kept across scale-downs, with scale-up in parallel', () => {
    expect(checkSpool(manifests, spoolRule())).toEqual([]);
    const set = kinds('StatefulSet')[0]!.doc['spec'] as Record<string, unknown> & { volumeClaimTemplates: { metadata: { name: string } }[]; template: { spec: { volumes: { name: string }[] } } };
    // The data dir is not (also) an emptyDir of the pod.
    expect(set.template.spec.volumes.map((v) => v.name)).not.toContain(set.volumeClaimTemplates[0]!.metadata.name);
    expect(set['podManagementPolicy']).toBe('Parallel');
    expect(set['updateStrategy']).toMatchObject({ type: 'RollingUpdate' });
    expect(set['persistentVolumeClaimRetentionPolicy']).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    const hpa = kinds('HorizontalPodAutoscaler')[0]!.doc['spec'] as { scaleTargetRef: unknown };
    expect(hpa.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'gatelog-proxy' });
    expect(bytesOf('2Gi')).toBe(2 * 2 ** 30);
    expect(bytesOf('1500M')).toBe(1.5e9);
    expect(bytesOf('lots')).toBeUndefined();
  });

  it('can fail: broken copies are caught', () => {
    const clone = (): Manifest[] => structuredClone(manifests);
    const find = (ms: Manifest[], kind: string, name: string): Record<string, unknown> => ms.find((m) => m.doc['kind'] === kind && (m.doc['metadata'] as { name: string }).name === name)!.doc;
    const cases: [string, (ms: Manifest[]) => void, RegExp][] = [
      ['Service selector', (ms) => ((find(ms, 'Service', 'gatelog-ui')['spec'] as { selector: Record<string, string> }).selector['app.kubernetes.io/component'] = 'uii'), /Service\/gatelog-ui: spec.selector matches no Deployment/],
      ['HPA target', (ms) => ((find(ms, 'HorizontalPodAutoscaler', 'gatelog-proxy')['spec'] as { scaleTargetRef: { name: string } }).scaleTargetRef.name = 'gatelog-proxyy'), /scaleTargetRef names no Deployment or StatefulSet/],
      ['HPA target kind', (ms) => ((find(ms, 'HorizontalPodAutoscaler', 'gatelog-proxy')['spec'] as { scaleTargetRef: { kind: string } }).scaleTargetRef.kind = 'Deployment'), /scaleTargetRef names no Deployment or StatefulSet defined here \(apps\/v1 Deployment\/gatelog-proxy\)/],
      ['governing Service', (ms) => (find(ms, 'StatefulSet', 'gatelog-proxy')['spec'] as Record<string, unknown>)['serviceName'] = 'gatelog-proxy', /StatefulSet\/gatelog-proxy: serviceName gatelog-proxy is not a headless Service/],
      ['claim template', (ms) => delete ((find(ms, 'StatefulSet', 'gatelog-proxy')['spec'] as { volumeClaimTemplates: { spec: { resources: Record<string, unknown> } }[] }).volumeClaimTemplates[0]!.spec.resources['requests']), /volumeClaimTemplate data: resources.requests.storage is required/],
      ['claim shadows a volume', (ms) => (find(ms, 'StatefulSet', 'gatelog-proxy')['spec'] as { template: { spec: { volumes: unknown[] } } }).template.spec.volumes.push({ name: 'data', emptyDir: {} }), /volumeClaimTemplate data has the name of a pod volume/],
      ['surge', (ms) => ((find(ms, 'StatefulSet', 'gatelog-proxy')['spec'] as { updateStrategy: Record<string, unknown> }).updateStrategy['rollingUpdate'] = { maxSurge: 1, maxUnavailable: 0 }), /maxSurge does not exist for a StatefulSet[\s\S]*maxUnavailable cannot be 0/],
      ['secret key', (ms) => delete (find(ms, 'Secret', 'gatelog-secrets')['stringData'] as Record<string, string>)['master-key'], /secretKeyRef gatelog-secrets\/master-key is not a defined Secret key/],
      ['configmap key', (ms) => delete (find(ms, 'ConfigMap', 'gatelog-env')['data'] as Record<string, string>)['GATELOG_REDIS_URL'], /configMapKeyRef gatelog-env\/GATELOG_REDIS_URL/],
      ['selector vs labels', (ms) => ((find(ms, 'Deployment', 'gatelog-ingest')['spec'] as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels['tier'] = 'x'), /gatelog-ingest: spec.selector.matchLabels does not match/],
      ['probe', (ms) => delete ((find(ms, 'StatefulSet', 'gatelog-proxy')['spec'] as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers[0]!['readinessProbe']), /container proxy: readinessProbe is required/],
      ['root', (ms) => (((find(ms, 'Deployment', 'gatelog-ui')['spec'] as { template: { spec: { securityContext: Record<string, unknown> } } }).template.spec.securityContext['runAsUser'] = 0)), /container ui: must run as non-root/],
      ['kind', (ms) => (find(ms, 'Deployment', 'gatelog-redis')['apiVersion'] = 'extensions/v1beta1'), /apiVersion extensions\/v1beta1 is not apps\/v1/],
      ['capabilities', (ms) => delete ((find(ms, 'Deployment', 'gatelog-ingest')['spec'] as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers[0]!['securityContext']), /container ingest: allowPrivilegeEscalation must be false/],
    ];
    for (const [what, breakIt, expected] of cases) {
      const ms = clone();
      breakIt(ms);
      expect(checkManifests(ms, K8S).join('\n'), what).toMatch(expected);
    }

    // The spool rule: each of these loses (or corrupts) calls spooled during a Kafka outage.
    type SetSpec = { volumeClaimTemplates?: { spec: { accessModes: string[]; resources: { requests: { storage: string } } } }[]; persistentVolumeClaimRetentionPolicy: Record<string, string>; template: { spec: { volumes: unknown[]; containers: { volumeMounts: { name: string; mountPath: string }[]; env: { name: string; value?: string }[] }[] } } };
    const proxySpec = (ms: Manifest[]): SetSpec => find(ms, 'StatefulSet', 'gatelog-proxy')['spec'] as SetSpec;
    const spoolCases: [string, (ms: Manifest[]) => void, RegExp][] = [
      // The manifest as it was: a Deployment whose data dir is an emptyDir.
      ['a Deployment with an emptyDir', (ms) => {
        const spec = proxySpec(ms);
        find(ms, 'StatefulSet', 'gatelog-proxy')['kind'] = 'Deployment';
        delete spec.volumeClaimTemplates;
        spec.template.spec.volumes.push({ name: 'data', emptyDir: { sizeLimit: '2Gi' } });
      }, /Deployment cannot give each replica a volume claim[\s\S]*is on emptyDir volume data, not a volume claim/],
      ['no volume at all', (ms) => {
        const c = proxySpec(ms).template.spec.containers[0]!;
        c.volumeMounts = c.volumeMounts.filter((m) => m.name !== 'data');
      }, /the spool \(\/var\/lib\/gatelog\/spool\) is on no volume/],
      ['the data dir moved off the claim', (ms) => (proxySpec(ms).template.spec.containers[0]!.env.find((e) => e.name === 'GATELOG_DATA_DIR')!.value = '/tmp/gatelog'), /the spool \(\/tmp\/gatelog\/spool\) is on emptyDir volume tmp/],
      ['claims deleted on scale-down', (ms) => (proxySpec(ms).persistentVolumeClaimRetentionPolicy['whenScaled'] = 'Delete'), /whenScaled is Delete/],
      ['a claim shared by every replica', (ms) => (proxySpec(ms).volumeClaimTemplates![0]!.spec.accessModes = ['ReadWriteMany']), /must be ReadWriteOnce or ReadWriteOncePod/],
      ['a claim smaller than the spool', (ms) => (proxySpec(ms).volumeClaimTemplates![0]!.spec.resources.requests.storage = '512Mi'), /asks for 512Mi, less than bus.spool_max_bytes/],
    ];
    for (const [what, breakIt, expected] of spoolCases) {
      const ms = clone();
      breakIt(ms);
      expect(checkSpool(ms, spoolRule()).join('\n'), what).toMatch(expected);
    }
  });
});

/** gatelog.yaml text (a ConfigMap's) loaded the way a service loads its file. */
function loadYamlConfig(yamlText: string, env: Record<string, string>): ReturnType<typeof loadConfig>['config'] {
  const dir = mkdtempSync(join(tmpdir(), 'gatelog-k8s-'));
  try {
    writeFileSync(join(dir, 'gatelog.yaml'), yamlText);
    return loadConfig({ path: join(dir, 'gatelog.yaml'), env }).config;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
