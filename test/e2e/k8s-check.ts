// A checker for deploy/k8s: the fields each resource kind requires, and the references between
// resources (selectors, the HPA's target, a StatefulSet's Service and volume claims, Secret and
// ConfigMap keys, volumes, named ports), without a cluster; and checkSpool, gatelog's own rule
// that a proxy's spool is on a volume claim of its own. Returns one line per problem, so a test
// can show them all at once.
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { spoolDirOf } from '@gatelog/core';

type Obj = Record<string, unknown>;
export interface Manifest {
  file: string;
  doc: Obj;
}

const KINDS: Record<string, string[]> = {
  Namespace: ['v1'],
  ConfigMap: ['v1'],
  Secret: ['v1'],
  Service: ['v1'],
  Deployment: ['apps/v1'],
  StatefulSet: ['apps/v1'],
  HorizontalPodAutoscaler: ['autoscaling/v2'],
  PodDisruptionBudget: ['policy/v1'],
  Kustomization: ['kustomize.config.k8s.io/v1beta1'],
};

const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

export function loadManifests(dir: string): { manifests: Manifest[]; problems: string[] } {
  const manifests: Manifest[] = [];
  const problems: string[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      for (const e of d.errors) problems.push(`${file}: YAML: ${e.message}`);
      const doc = obj(d.toJSON());
      if (Object.keys(doc).length > 0) manifests.push({ file, doc });
    }
  }
  return { manifests, problems };
}

/** Every label of `selector` is on `labels` (a non-empty selector). */
function selects(selector: Obj, labels: Obj): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** The kinds that run pods from a template. */
const WORKLOADS = ['Deployment', 'StatefulSet'];
const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];

export function checkManifests(manifests: Manifest[], dir?: string): string[] {
  const problems: string[] = [];
  const named = (kind: string): Map<string, Obj> => new Map(manifests.filter((m) => m.doc['kind'] === kind).map((m) => [str(obj(m.doc['metadata'])['name']) ?? '', m.doc]));
  const workloads = manifests.filter((m) => WORKLOADS.includes(String(m.doc['kind']))).map((m) => m.doc);
  const services = named('Service');
  const configMaps = named('ConfigMap');
  const secrets = named('Secret');
  const keysOf = (o: Obj | undefined): Set<string> => new Set([...Object.keys(obj(o?.['data'])), ...Object.keys(obj(o?.['stringData']))]);
  const podLabels = (d: Obj): Obj => obj(obj(obj(obj(d['spec'])['template'])['metadata'])['labels']);

  for (const { file, doc } of manifests) {
    const kind = str(doc['kind']);
    const name = str(obj(doc['metadata'])['name']);
    const at = `${file}: ${kind ?? '?'}/${name ?? '?'}`;
    if (!kind || !str(doc['apiVersion'])) problems.push(`${at}: apiVersion and kind are required`);
    if (!kind || !KINDS[kind]) {
      problems.push(`${at}: unknown kind`);
      continue;
    }
    if (!KINDS[kind].includes(String(doc['apiVersion']))) problems.push(`${at}: apiVersion ${String(doc['apiVersion'])} is not ${KINDS[kind].join(' or ')}`);
    if (kind !== 'Kustomization' && !name) problems.push(`${at}: metadata.name is required`);
    const spec = obj(doc['spec']);

    if (WORKLOADS.includes(kind)) {
      const tpl = obj(spec['template']);
      const pod = obj(tpl['spec']);
      if (!selects(obj(obj(spec['selector'])['matchLabels']), podLabels(doc))) problems.push(`${at}: spec.selector.matchLabels does not match the template's labels`);
      const containers = arr(pod['containers']);
      if (containers.length === 0) problems.push(`${at}: no containers`);
      const volumes = new Map(arr(pod['volumes']).map((v) => [str(v['name']) ?? '', v]));
      // A StatefulSet's volume claims are volumes of its pods too (and win over a pod volume of the same name).
      const claims = new Map(arr(spec['volumeClaimTemplates']).map((c) => [str(obj(c['metadata'])['name']) ?? '', c]));
      if (kind === 'StatefulSet') problems.push(...checkStatefulSet(at, spec, podLabels(doc), services, claims, volumes));
      for (const v of volumes.values()) {
        const cm = str(obj(v['configMap'])['name']);
        if (v['configMap'] && (!cm || !configMaps.has(cm))) problems.push(`${at}: volume ${String(v['name'])} names ConfigMap ${cm ?? '(none)'}, which is not defined`);
      }
      const podSec = obj(pod['securityContext']);
      for (const c of containers) {
        const cn = `${at} container ${str(c['name']) ?? '?'}`;
        if (!str(c['name']) || !str(c['image'])) problems.push(`${cn}: name and image are required`);
        for (const p of ['readinessProbe', 'livenessProbe']) if (!c[p]) problems.push(`${cn}: ${p} is required`);
        const res = obj(c['resources']);
        for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) if (obj(res[k])[r] === undefined) problems.push(`${cn}: resources.${k}.${r} is required`);
        const sec = { ...podSec, ...obj(c['securityContext']) };
        if (sec['runAsNonRoot'] !== true || typeof sec['runAsUser'] !== 'number' || sec['runAsUser'] === 0) problems.push(`${cn}: must run as non-root (runAsNonRoot: true, a non-zero runAsUser)`);
        // What the namespace's `restricted` Pod Security Standard admits.
        if (sec['allowPrivilegeEscalation'] !== false) problems.push(`${cn}: allowPrivilegeEscalation must be false`);
        if (!((obj(sec['capabilities'])['drop'] as unknown[] | undefined) ?? []).includes('ALL')) problems.push(`${cn}: capabilities must drop ALL`);
        if (obj(sec['seccompProfile'])['type'] !== 'RuntimeDefault') problems.push(`${cn}: seccompProfile must be RuntimeDefault`);
        const ports = new Set(arr(c['ports']).map((p) => p['name']));
        for (const p of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
          const probe = obj(c[p]);
          const port = obj(probe['httpGet'])['port'] ?? obj(probe['tcpSocket'])['port'];
          if (typeof port === 'string' && !ports.has(port)) problems.push(`${cn}: ${p} uses port "${port}", which the container does not name`);
        }
        for (const m of arr(c['volumeMounts'])) if (!volumes.has(str(m['name']) ?? '') && !claims.has(str(m['name']) ?? '')) problems.push(`${cn}: volumeMount ${String(m['name'])} has no volume`);
        for (const e of arr(c['env'])) {
          const from = obj(e['valueFrom']);
          const sk = obj(from['secretKeyRef']);
          const ck = obj(from['configMapKeyRef']);
          if (from['secretKeyRef'] && !keysOf(secrets.get(str(sk['name']) ?? '')).has(String(sk['key']))) problems.push(`${cn}: env ${String(e['name'])}: secretKeyRef ${String(sk['name'])}/${String(sk['key'])} is not a defined Secret key`);
          if (from['configMapKeyRef'] && !keysOf(configMaps.get(str(ck['name']) ?? '')).has(String(ck['key']))) problems.push(`${cn}: env ${String(e['name'])}: configMapKeyRef ${String(ck['name'])}/${String(ck['key'])} is not a defined ConfigMap key`);
          if (e['value'] === undefined && !e['valueFrom']) problems.push(`${cn}: env ${String(e['name'])} has no value`);
        }
        for (const f of arr(c['envFrom'])) {
          const cm = str(obj(f['configMapRef'])['name']);
          const s = str(obj(f['secretRef'])['name']);
          if (cm && !configMaps.has(cm)) problems.push(`${cn}: envFrom ConfigMap ${cm} is not defined`);
          if (s && !secrets.has(s)) problems.push(`${cn}: envFrom Secret ${s} is not defined`);
        }
      }
    }
    if (kind === 'Service') {
      const selector = obj(spec['selector']);
      const target = workloads.find((d) => selects(selector, podLabels(d)));
      if (!target) problems.push(`${at}: spec.selector matches no Deployment's or StatefulSet's pod labels`);
      const ports = arr(spec['ports']);
      if (ports.length === 0) problems.push(`${at}: no ports`);
      const named = new Set(arr(obj(obj(obj(target?.['spec'])['template'])['spec'])['containers']).flatMap((c) => arr(c['ports']).map((p) => p['name'])));
      for (const p of ports) if (typeof p['targetPort'] === 'string' && target && !named.has(p['targetPort'])) problems.push(`${at}: targetPort "${p['targetPort']}" is not a port the pods name`);
    }
    if (kind === 'HorizontalPodAutoscaler') {
      const ref = obj(spec['scaleTargetRef']);
      const target = workloads.find((w) => w['kind'] === ref['kind'] && str(obj(w['metadata'])['name']) === ref['name']);
      if (!target || ref['apiVersion'] !== target['apiVersion']) problems.push(`${at}: scaleTargetRef names no Deployment or StatefulSet defined here (${String(ref['apiVersion'])} ${String(ref['kind'])}/${String(ref['name'])})`);
      if (!(Number(spec['minReplicas'] ?? 1) <= Number(spec['maxReplicas']))) problems.push(`${at}: maxReplicas must be at least minReplicas`);
      if (!arr(spec['metrics']).some((m) => obj(m['resource'])['name'] === 'cpu')) problems.push(`${at}: no CPU metric`);
    }
    if (kind === 'PodDisruptionBudget' && !workloads.some((d) => selects(obj(obj(spec['selector'])['matchLabels']), podLabels(d)))) problems.push(`${at}: selector matches no Deployment or StatefulSet`);
    if (kind === 'Kustomization' && dir) {
      const listed = new Set((doc['resources'] as string[] | undefined) ?? []);
      const files = new Set(manifests.map((m) => m.file));
      for (const r of listed) if (!files.has(r)) problems.push(`${at}: resource ${r} does not exist`);
      for (const f of files) if (f !== file && !f.includes('.example.') && !listed.has(f)) problems.push(`${at}: ${f} is not listed in resources`);
    }
  }
  return problems;
}

/** What a StatefulSet needs beyond a Deployment's fields: its governing Service, valid policies, well-formed volume claims. */
function checkStatefulSet(at: string, spec: Obj, labels: Obj, services: Map<string, Obj>, claims: Map<string, Obj>, volumes: Map<string, Obj>): string[] {
  const problems: string[] = [];
  const serviceName = str(spec['serviceName']);
  const governing = services.get(serviceName ?? '');
  if (!serviceName || !governing) problems.push(`${at}: serviceName ${serviceName ?? '(none)'} names no Service defined here`);
  else {
    const gs = obj(governing['spec']);
    if (gs['clusterIP'] !== 'None') problems.push(`${at}: serviceName ${serviceName} is not a headless Service (clusterIP: None)`);
    if (!selects(obj(gs['selector']), labels)) problems.push(`${at}: serviceName ${serviceName} does not select this StatefulSet's pods`);
  }
  const policy = spec['podManagementPolicy'];
  if (policy !== undefined && policy !== 'OrderedReady' && policy !== 'Parallel') problems.push(`${at}: podManagementPolicy ${String(policy)} is not OrderedReady or Parallel`);
  const update = obj(spec['updateStrategy']);
  if (update['type'] !== undefined && update['type'] !== 'RollingUpdate' && update['type'] !== 'OnDelete') problems.push(`${at}: updateStrategy.type ${String(update['type'])} is not RollingUpdate or OnDelete`);
  const rolling = obj(update['rollingUpdate']);
  if ('maxSurge' in rolling) problems.push(`${at}: updateStrategy.rollingUpdate.maxSurge does not exist for a StatefulSet`);
  if (rolling['maxUnavailable'] === 0 || rolling['maxUnavailable'] === '0%') problems.push(`${at}: updateStrategy.rollingUpdate.maxUnavailable cannot be 0`);
  const retention = obj(spec['persistentVolumeClaimRetentionPolicy']);
  for (const k of ['whenDeleted', 'whenScaled']) if (retention[k] !== undefined && retention[k] !== 'Retain' && retention[k] !== 'Delete') problems.push(`${at}: persistentVolumeClaimRetentionPolicy.${k} ${String(retention[k])} is not Retain or Delete`);
  for (const [name, c] of claims) {
    const cs = obj(c['spec']);
    if (!name) problems.push(`${at}: a volumeClaimTemplate has no metadata.name`);
    if (volumes.has(name)) problems.push(`${at}: volumeClaimTemplate ${name} has the name of a pod volume, which it silently replaces`);
    const modes = (cs['accessModes'] as unknown[] | undefined) ?? [];
    if (modes.length === 0 || modes.some((m) => !ACCESS_MODES.includes(String(m)))) problems.push(`${at}: volumeClaimTemplate ${name}: accessModes must be some of ${ACCESS_MODES.join(', ')}`);
    if (bytesOf(obj(obj(cs['resources'])['requests'])['storage']) === undefined) problems.push(`${at}: volumeClaimTemplate ${name}: resources.requests.storage is required`);
  }
  return problems;
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A Kubernetes quantity (`2Gi`, `500M`, `1073741824`) in bytes; undefined if it is not one. */
export function bytesOf(q: unknown): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q ?? ''));
  return m ? Number(m[1]) * UNITS[m[2] ?? '']! : undefined;
}

/** `path` is `dir` or inside it. */
function contains(dir: string, path: string): boolean {
  const d = posix.normalize(dir).replace(/\/$/, '');
  return path === d || path.startsWith(`${d}/`);
}

export interface SpoolRule {
  /** GATELOG_DATA_DIR where the container does not set it (the image's ENV). */
  dataDirDefault: string;
  /** bus.spool_max_bytes of the deployment's gatelog.yaml: a claim must hold a full spool. */
  spoolMaxBytes: number;
}

/**
 * Every gatelog proxy container keeps its spool (<GATELOG_DATA_DIR>/spool, where call events
 * wait while Kafka is unreachable) on a volume claim of its own that outlives the pod: a
 * StatefulSet's volumeClaimTemplate, written by one pod at a time, large enough for a full
 * spool, and kept when the set is scaled down or deleted. An emptyDir, or no volume at all,
 * loses every spooled call with the pod.
 */
export function checkSpool(manifests: Manifest[], rule: SpoolRule): string[] {
  const problems: string[] = [];
  let proxies = 0;
  for (const { file, doc } of manifests.filter((m) => WORKLOADS.includes(String(m.doc['kind'])))) {
    const spec = obj(doc['spec']);
    const pod = obj(obj(spec['template'])['spec']);
    const at = `${file}: ${String(doc['kind'])}/${String(obj(doc['metadata'])['name'])}`;
    for (const c of arr(pod['containers']).filter((x) => x['image'] === 'gatelog' && (x['args'] as unknown[] | undefined)?.[0] === 'proxy')) {
      proxies++;
      const env = arr(c['env']).find((e) => e['name'] === 'GATELOG_DATA_DIR');
      const dataDir = str(env?.['value']) ?? rule.dataDirDefault;
      const spool = spoolDirOf(dataDir);
      const cn = `${at} container ${String(c['name'])}: the spool (${spool})`;
      if (doc['kind'] !== 'StatefulSet') problems.push(`${cn}: a ${String(doc['kind'])} cannot give each replica a volume claim of its own (use a StatefulSet's volumeClaimTemplates)`);
      // The mount the spool's files land on: the deepest mountPath containing it.
      const mount = arr(c['volumeMounts'])
        .filter((m) => contains(String(m['mountPath'] ?? ''), spool))
        .sort((x, y) => String(y['mountPath']).length - String(x['mountPath']).length)[0];
      if (!mount) {
        problems.push(`${cn} is on no volume: the container's filesystem, lost with the pod`);
        continue;
      }
      if (mount['readOnly'] === true) problems.push(`${cn}: volume ${String(mount['name'])} is mounted read-only`);
      const claim = arr(spec['volumeClaimTemplates']).find((t) => obj(t['metadata'])['name'] === mount['name']);
      if (!claim) {
        const v = arr(pod['volumes']).find((x) => x['name'] === mount['name']) ?? {};
        const source = Object.keys(v).find((k) => k !== 'name') ?? 'no volume';
        problems.push(`${cn} is on ${source} volume ${String(mount['name'])}, not a volume claim of the replica's own: spooled calls are lost with the pod`);
        continue;
      }
      const cs = obj(claim['spec']);
      const modes = ((cs['accessModes'] as unknown[] | undefined) ?? []).map(String);
      if (!modes.every((m) => m === 'ReadWriteOnce' || m === 'ReadWriteOncePod') || modes.length === 0) problems.push(`${cn}: claim ${String(mount['name'])} must be ReadWriteOnce or ReadWriteOncePod (one writer per spool), not ${modes.join(', ')}`);
      const bytes = bytesOf(obj(obj(cs['resources'])['requests'])['storage']);
      if (bytes === undefined || bytes < rule.spoolMaxBytes) problems.push(`${cn}: claim ${String(mount['name'])} asks for ${String(obj(obj(cs['resources'])['requests'])['storage'])}, less than bus.spool_max_bytes (${rule.spoolMaxBytes} bytes)`);
      const retention = obj(spec['persistentVolumeClaimRetentionPolicy']);
      for (const k of ['whenScaled', 'whenDeleted']) if (retention[k] === 'Delete') problems.push(`${cn}: persistentVolumeClaimRetentionPolicy.${k} is Delete: calls spooled during a Kafka outage would be deleted with the claim`);
    }
  }
  if (proxies === 0) problems.push('no gatelog proxy container found');
  return problems;
}
