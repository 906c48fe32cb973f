// A checker for deploy/k8s: the fields each resource kind requires, and the references between
// resources (selectors, the HPA's target, Secret and ConfigMap keys, volumes, named ports),
// without a cluster. Returns one line per problem, so a test can show them all at once.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

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

export function checkManifests(manifests: Manifest[], dir?: string): string[] {
  const problems: string[] = [];
  const named = (kind: string): Map<string, Obj> => new Map(manifests.filter((m) => m.doc['kind'] === kind).map((m) => [str(obj(m.doc['metadata'])['name']) ?? '', m.doc]));
  const deployments = named('Deployment');
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

    if (kind === 'Deployment') {
      const tpl = obj(spec['template']);
      const pod = obj(tpl['spec']);
      if (!selects(obj(obj(spec['selector'])['matchLabels']), podLabels(doc))) problems.push(`${at}: spec.selector.matchLabels does not match the template's labels`);
      const containers = arr(pod['containers']);
      if (containers.length === 0) problems.push(`${at}: no containers`);
      const volumes = new Map(arr(pod['volumes']).map((v) => [str(v['name']) ?? '', v]));
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
        for (const m of arr(c['volumeMounts'])) if (!volumes.has(str(m['name']) ?? '')) problems.push(`${cn}: volumeMount ${String(m['name'])} has no volume`);
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
      const target = [...deployments.values()].find((d) => selects(selector, podLabels(d)));
      if (!target) problems.push(`${at}: spec.selector matches no Deployment's pod labels`);
      const ports = arr(spec['ports']);
      if (ports.length === 0) problems.push(`${at}: no ports`);
      const named = new Set(arr(obj(obj(obj(target?.['spec'])['template'])['spec'])['containers']).flatMap((c) => arr(c['ports']).map((p) => p['name'])));
      for (const p of ports) if (typeof p['targetPort'] === 'string' && target && !named.has(p['targetPort'])) problems.push(`${at}: targetPort "${p['targetPort']}" is not a port the pods name`);
    }
    if (kind === 'HorizontalPodAutoscaler') {
      const ref = obj(spec['scaleTargetRef']);
      if (ref['kind'] !== 'Deployment' || !deployments.has(String(ref['name']))) problems.push(`${at}: scaleTargetRef names no Deployment defined here (${String(ref['kind'])}/${String(ref['name'])})`);
      if (!(Number(spec['minReplicas'] ?? 1) <= Number(spec['maxReplicas']))) problems.push(`${at}: maxReplicas must be at least minReplicas`);
      if (!arr(spec['metrics']).some((m) => obj(m['resource'])['name'] === 'cpu')) problems.push(`${at}: no CPU metric`);
    }
    if (kind === 'PodDisruptionBudget' && ![...deployments.values()].some((d) => selects(obj(obj(spec['selector'])['matchLabels']), podLabels(d)))) problems.push(`${at}: selector matches no Deployment`);
    if (kind === 'Kustomization' && dir) {
      const listed = new Set((doc['resources'] as string[] | undefined) ?? []);
      const files = new Set(manifests.map((m) => m.file));
      for (const r of listed) if (!files.has(r)) problems.push(`${at}: resource ${r} does not exist`);
      for (const f of files) if (f !== file && !f.includes('.example.') && !listed.has(f)) problems.push(`${at}: ${f} is not listed in resources`);
    }
  }
  return problems;
}
