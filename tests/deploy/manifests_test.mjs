// Offline validation of the Kubernetes manifests in deploy/k8s/base: every document against the
// Kubernetes 1.27 / Prometheus Operator schemas (npm kubernetes-models), plus the consistency
// rules a schema cannot see (selectors, named ports, probes, security, thread count).
// Usage: node manifests_test.mjs REPO_DIR NODE_MODULES_DIR [TCONV_SERVER_BINARY]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { pathToFileURL } from 'node:url';

const [repo, modulesDir, serverBinary] = process.argv.slice(2).map((a) => (a ? path.resolve(a) : a));
const baseDir = path.join(repo, 'deploy/k8s/base');
const load = (mod, sub) => import(pathToFileURL(path.join(modulesDir, mod, sub, 'index.js')).href);
const YAML = await import(pathToFileURL(path.join(modulesDir, 'yaml/dist/index.js')).href);

let failures = 0;
const fail = (what) => { failures++; console.error(`FAIL: ${what}`); };
const check = (ok, what) => { if (!ok) fail(what); };

// apiVersion -> the module holding its kinds.
async function modelsFor(apiVersion) {
  if (apiVersion === 'monitoring.coreos.com/v1') {
    return load('@kubernetes-models/prometheus-operator', 'monitoring.coreos.com/v1');
  }
  return load('kubernetes-models', apiVersion);  // "v1", "apps/v1", "autoscaling/v2", ...
}

async function validate(doc, where) {
  let mod;
  try { mod = await modelsFor(doc.apiVersion); } catch { return fail(`${where}: unknown apiVersion ${doc.apiVersion}`); }
  if (typeof mod[doc.kind] !== 'function') return fail(`${where}: unknown kind ${doc.apiVersion} ${doc.kind}`);
  try { new mod[doc.kind](doc).validate(); } catch (e) { fail(`${where}: ${e.message}`); }
}

function readDocs(file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
  return docs.map((d, i) => {
    if (d.errors.length) fail(`${file}#${i}: ${d.errors[0].message}`);
    return d.toJS();
  }).filter((d) => d);
}

// --- load: exactly the files kustomization.yaml lists, and every .yaml in the folder is listed
const kustomization = readDocs(path.join(baseDir, 'kustomization.yaml'))[0];
const listed = kustomization.resources ?? [];
const present = fs.readdirSync(baseDir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
check(isDeepStrictEqual([...listed].sort(), present.sort()),
      `kustomization resources ${listed} != files ${present}`);
const docs = [];
for (const file of listed) {
  for (const doc of readDocs(path.join(baseDir, file))) {
    const where = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    await validate(doc, where);
    docs.push({ doc, where });
  }
}
const byKind = (kind) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);

// --- the validator is not a no-op: broken copies must be refused
{
  const broken = structuredClone(byKind('Deployment')[0]);
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'grpc';
  const { Deployment } = await modelsFor('apps/v1');
  let refused = false;
  try { new Deployment(broken).validate(); } catch { refused = true; }
  check(refused, 'schema validation accepted containerPort: "grpc"');
  const noSelector = structuredClone(byKind('Deployment')[0]);
  delete noSelector.spec.selector;
  refused = false;
  try { new Deployment(noSelector).validate(); } catch { refused = true; }
  check(refused, 'schema validation accepted a Deployment without selector');
}

const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) && Object.keys(selector ?? {}).length > 0;

// --- Deployments: pods, containers, probes, security, threads
const deployments = byKind('Deployment');
check(deployments.length === 1, `expected one Deployment, found ${deployments.length}`);
const volumeClaims = new Set(byKind('PersistentVolumeClaim').map((p) => p.metadata.name));
for (const dep of deployments) {
  const name = `Deployment/${dep.metadata.name}`;
  const pod = dep.spec.template;
  check(matches(dep.spec.selector.matchLabels, pod.metadata.labels), `${name}: selector does not match pod labels`);
  const podSec = pod.spec.securityContext ?? {};
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  for (const v of volumes.values()) {
    if (v.persistentVolumeClaim) {
      check(volumeClaims.has(v.persistentVolumeClaim.claimName), `${name}: volume ${v.name} claims unknown PVC`);
    }
  }
  // Every container, init containers included: locked down, mounts of existing volumes, and
  // the shared repository (a PVC) never mounted writable.
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    const where = `${name} container ${c.name}`;
    const sec = c.securityContext ?? {};
    check((sec.runAsNonRoot ?? podSec.runAsNonRoot) === true, `${where}: runAsNonRoot is not true`);
    check(sec.readOnlyRootFilesystem === true, `${where}: readOnlyRootFilesystem is not true`);
    check(sec.allowPrivilegeEscalation === false, `${where}: allowPrivilegeEscalation is not false`);
    check((sec.capabilities?.drop ?? []).includes('ALL'), `${where}: capabilities are not dropped`);
    check(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${where}: resource requests (cpu, memory) not set`);
    // Guaranteed QoS (what the manifest promises) needs requests == limits in every container.
    check(isDeepStrictEqual(c.resources?.requests, c.resources?.limits), `${where}: requests != limits (not Guaranteed QoS)`);
    for (const m of c.volumeMounts ?? []) {
      check(volumes.has(m.name), `${where}: mount of unknown volume ${m.name}`);
      if (volumes.get(m.name)?.persistentVolumeClaim) {
        check(m.readOnly === true, `${where}: shared volume ${m.name} mounted writable`);
      }
    }
  }
  for (const c of pod.spec.containers) {
    const where = `${name} container ${c.name}`;
    const ports = c.ports ?? [];
    const portNumbers = new Set(ports.map((p) => p.containerPort));
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const probe = c[kind];
      if (!probe) { fail(`${where}: no ${kind}`); continue; }
      check(probe.grpc !== undefined, `${where}: ${kind} is not a gRPC health probe`);
      const port = probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port;
      check(portNumbers.has(port) || ports.some((p) => p.name === port), `${where}: ${kind} port ${port} is not a container port`);
    }
    const lim = c.resources?.limits ?? {};
    check(lim.cpu && lim.memory, `${where}: resource limits (cpu, memory) not set`);
    const mounts = c.volumeMounts ?? [];
    check(mounts.some((m) => m.mountPath === '/tmp'), `${where}: read-only root without a writable /tmp`);
    // Threads follow the CPU limit.
    const env = (c.env ?? []).find((e) => e.name === 'TCONV_THREADS');
    const ref = env?.valueFrom?.resourceFieldRef;
    check(ref?.resource === 'limits.cpu' && ref?.containerName === c.name,
          `${where}: TCONV_THREADS does not come from this container's limits.cpu`);
    const args = c.args ?? [];
    check(args.includes('--threads=$(TCONV_THREADS)'), `${where}: --threads does not use $(TCONV_THREADS)`);
    const grpcPort = Number((args.find((a) => a.startsWith('--grpc_address=')) ?? '').split(':').pop());
    const metricsPort = Number((args.find((a) => a.startsWith('--metrics_address=')) ?? '').split(':').pop());
    check(portNumbers.has(grpcPort), `${where}: --grpc_address port ${grpcPort} is not a container port`);
    check(portNumbers.has(metricsPort), `${where}: --metrics_address port ${metricsPort} is not a container port`);
    // Grace period covers the preStop sleep and the server's drain.
    const drain = /--drain_timeout=(\d+)s$/.exec(args.find((a) => a.startsWith('--drain_timeout=')) ?? '');
    const preStop = Number(c.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    check(drain !== null, `${where}: --drain_timeout=<N>s not set`);
    if (drain) {
      check(pod.spec.terminationGracePeriodSeconds > Number(drain[1]) + preStop,
            `${where}: terminationGracePeriodSeconds ${pod.spec.terminationGracePeriodSeconds} <= drain ${drain[1]} + preStop ${preStop}`);
    }
    // Connections are recycled so that clients rebalance over new replicas.
    check(args.some((a) => /^--max_connection_age=\d+[smh]$/.test(a)), `${where}: --max_connection_age not set`);
    if (serverBinary) checkFlagsExist(where, args);
  }
}

// Every flag in the manifest is one the real server binary declares (absl --helpfull).
function checkFlagsExist(where, args) {
  if (!fs.existsSync(serverBinary)) return fail(`${serverBinary} does not exist: build tconv-server first`);
  let help = '';
  try {
    help = execFileSync(serverBinary, ['--helpfull'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    help = `${e.stdout ?? ''}${e.stderr ?? ''}`;  // absl exits 1 after printing help
  }
  for (const arg of args) {
    const flag = /^--([A-Za-z0-9_]+)=/.exec(arg)?.[1];
    if (flag) check(help.includes(`-${flag} `) || help.includes(`-${flag}(`) || help.includes(`-${flag}\n`),
                    `${where}: ${serverBinary} has no flag --${flag}`);
  }
}

const podLabels = deployments.map((d) => d.spec.template.metadata.labels);
const containerPorts = deployments.flatMap((d) => d.spec.template.spec.containers.flatMap((c) => c.ports ?? []));

// --- Services: selectors reach the pods, target ports exist, one headless for round robin
const services = byKind('Service');
for (const svc of services) {
  const name = `Service/${svc.metadata.name}`;
  check(podLabels.some((l) => matches(svc.spec.selector, l)), `${name}: selector matches no pod template`);
  for (const p of svc.spec.ports) {
    const t = p.targetPort ?? p.port;
    check(containerPorts.some((cp) => cp.name === t || cp.containerPort === t), `${name}: targetPort ${t} is not a container port`);
  }
}
check(services.some((s) => s.spec.clusterIP === 'None' && s.spec.ports.some((p) => p.name === 'grpc')),
      'no headless Service (clusterIP: None) with a grpc port');
check(services.some((s) => s.spec.clusterIP !== 'None'), 'no normal (ClusterIP) Service');

// --- PodDisruptionBudget, HPA
for (const pdb of byKind('PodDisruptionBudget')) {
  check(podLabels.some((l) => matches(pdb.spec.selector.matchLabels, l)), `PDB/${pdb.metadata.name}: selector matches no pods`);
}
check(byKind('PodDisruptionBudget').length === 1, 'expected one PodDisruptionBudget');
const hpas = byKind('HorizontalPodAutoscaler');
check(hpas.length === 1, 'expected one HorizontalPodAutoscaler');
for (const hpa of hpas) {
  const name = `HPA/${hpa.metadata.name}`;
  check(hpa.apiVersion === 'autoscaling/v2', `${name}: not autoscaling/v2`);
  check(deployments.some((d) => d.metadata.name === hpa.spec.scaleTargetRef.name && hpa.spec.scaleTargetRef.kind === 'Deployment'),
        `${name}: scaleTargetRef names no Deployment of the base`);
  check(hpa.spec.minReplicas >= 2 && hpa.spec.minReplicas <= hpa.spec.maxReplicas,
        `${name}: need 2 <= minReplicas <= maxReplicas (got ${hpa.spec.minReplicas}..${hpa.spec.maxReplicas})`);
  const metricNames = (hpa.spec.metrics ?? []).map((m) => m.pods?.metric?.name).filter((n) => n);
  check(metricNames.length > 0, `${name}: no Pods metric`);
  const adapter = fs.readFileSync(path.join(repo, 'deploy/prometheus/adapter-rules.yaml'), 'utf8');
  for (const m of metricNames) check(adapter.includes(`as: "${m}"`), `${name}: metric ${m} not served by adapter-rules.yaml`);
}

// --- ServiceMonitor scrapes a Service port that exists; PrometheusRule == the rules file
for (const sm of byKind('ServiceMonitor')) {
  const name = `ServiceMonitor/${sm.metadata.name}`;
  const selected = services.filter((s) => matches(sm.spec.selector.matchLabels, s.metadata.labels));
  check(selected.length === 1, `${name}: selects ${selected.length} Services, expected 1`);
  for (const ep of sm.spec.endpoints) {
    check(selected.every((s) => s.spec.ports.some((p) => p.name === ep.port)), `${name}: port ${ep.port} not on the selected Service`);
  }
}
check(byKind('ServiceMonitor').length === 1, 'expected one ServiceMonitor');
const rulesFile = readDocs(path.join(repo, 'deploy/prometheus/tconv-rules.yml'))[0];
const promRules = byKind('PrometheusRule');
check(promRules.length === 1 && isDeepStrictEqual(promRules[0].spec.groups, rulesFile.groups),
      'PrometheusRule spec.groups differ from deploy/prometheus/tconv-rules.yml');
const alerts = rulesFile.groups.flatMap((g) => g.rules).filter((r) => r.alert).map((r) => r.alert);
for (const a of ['TconvHighErrorRatio', 'TconvHighP99Latency', 'TconvQueueRejecting']) {
  check(alerts.includes(a), `alert ${a} missing`);
}

console.log(`${docs.length} documents validated, ${failures} failures`);
process.exit(failures ? 1 : 0);
