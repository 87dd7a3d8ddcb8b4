#!/usr/bin/env node
// k8s-check: offline checks of the gateway's Kubernetes manifests and its Dockerfile.
//
//   node check.js [--kubectl BIN] [--gateway BIN]
//                 [--render DIR]... [--manifest FILE]... [--dockerfile FILE]... [--broken DIR]
//
// --render DIR      renders a kustomization with `kubectl kustomize DIR` and checks the result
//                   as one deployable set (object rules + set rules below).
// --manifest FILE   checks the objects of a YAML file alone (object rules only).
// --dockerfile FILE lints a Dockerfile (dockerfile-utils, then the image rules below).
// --broken DIR      every file in DIR must be rejected: its `# expect: TEXT` lines name the
//                   problems it must be rejected for, and every problem found must match one
//                   of them (so each fixture shows exactly its defect). `# scope: set` also
//                   applies the set rules; files named Dockerfile* are linted as Dockerfiles.
// --gateway BIN     the built gateway: its --helpfull names the valid flags (config keys and
//                   args are checked against it) and the default of --shutdown_grace.
//
// Object rules: every object validates against the Kubernetes (kubernetes-models) or Prometheus
// Operator schema of its kind, has no key the schema does not know, and has a name. Every pod
// template: liveness, readiness and startup probes and a preStop hook on every container;
// cpu and memory requests and limits; an image with a tag that is not `latest` (or a digest);
// runAsNonRoot, a numeric non-zero runAsUser, seccompProfile RuntimeDefault (pod or container);
// readOnlyRootFilesystem, allowPrivilegeEscalation false, capabilities drop ALL, not privileged.
// Set rules, per Deployment: a NetworkPolicy (Ingress and Egress) and a PodDisruptionBudget
// selecting its pods, a headless Service and a ServiceMonitor reaching them; spec.replicas ==
// --replicas, or, when an HPA scales it, no spec.replicas and --replicas == its minReplicas; --config names a file of a mounted
// ConfigMap whose JSON keys are gateway flags; terminationGracePeriodSeconds > preStop sleep +
// the 1 s watch drain + --shutdown_delay + --shutdown_grace.
//
// Exits 0 when everything passes, 1 listing every problem otherwise, 2 on usage errors.
'use strict';

const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

// ---------------------------------------------------------------------------------------------
// Schema validation

// Model classes by apiVersion: Kubernetes' own, then the Prometheus Operator's.
function modelClass(apiVersion, kind) {
  const candidates = [
    `kubernetes-models/${apiVersion}`,
    `@kubernetes-models/prometheus-operator/${apiVersion}`,
  ];
  for (const module of candidates) {
    let exported;
    try {
      exported = require(module);
    } catch (e) {
      continue;
    }
    if (typeof exported[kind] === 'function') return exported[kind];
  }
  return null;
}

// The schemas allow unknown keys (no additionalProperties: false), so unknown keys are found by
// watching the compiled validator: it reads every property its schema declares (present or
// not) and enumerates the keys of free-form maps (labels, data, limits). A key of a validated
// object that the validator never read is unknown to the schema.
function validateAgainstSchema(object, Model) {
  const reads = new Map();
  const paths = new Map();
  const proxies = new WeakMap();
  function track(value, where) {
    if (value === null || typeof value !== 'object') return value;
    if (proxies.has(value)) return proxies.get(value);
    reads.set(value, new Set());
    paths.set(value, where);
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver);
        if (typeof key !== 'string') return v;
        reads.get(target).add(key);
        return track(v, `${where}/${key}`);
      },
      has(target, key) {
        reads.get(target).add(String(key));
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        reads.get(target).add('*');
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  }

  const problems = [];
  try {
    Model.prototype.validate.call(track(object, ''));
  } catch (e) {
    const errors = e.errors || [];
    if (errors.length === 0) problems.push(`schema: ${e.message}`);
    for (const err of errors) {
      problems.push(`schema: ${err.instancePath || '/'} ${err.message}`);
    }
  }
  for (const [value, read] of reads) {
    // Arrays, maps and objects the validator never looked into (free-form) have no fixed keys.
    if (Array.isArray(value) || read.has('*') || read.size === 0) continue;
    for (const key of Object.keys(value)) {
      if (!read.has(key)) problems.push(`unknown key ${paths.get(value)}/${key}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Object rules

function describe(object) {
  const kind = (object && object.kind) || '(no kind)';
  const name = (object && object.metadata && object.metadata.name) || '(no name)';
  return `${kind} ${name}`;
}

// Pod templates of workload kinds, with where they sit.
function podSpecs(object) {
  const spec = object.spec || {};
  if (object.kind === 'Pod') return [spec];
  if (object.kind === 'CronJob') {
    const job = (spec.jobTemplate || {}).spec || {};
    return job.template && job.template.spec ? [job.template.spec] : [];
  }
  return spec.template && spec.template.spec ? [spec.template.spec] : [];
}

function imageProblem(image) {
  if (typeof image !== 'string' || image === '') return 'has no image';
  if (image.includes('@sha256:')) return null;
  const lastSlash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon <= lastSlash) return `image "${image}" has no tag`;
  if (image.slice(colon + 1) === 'latest') return `image "${image}" uses the "latest" tag`;
  return null;
}

function containerProblems(podSpec, container, isInit) {
  const problems = [];
  const who = `${isInit ? 'init container' : 'container'} ${container.name || '(no name)'}`;
  const image = imageProblem(container.image);
  if (image) problems.push(`${who}: ${image}`);

  if (!isInit) {
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      if (!container[probe]) problems.push(`${who}: no ${probe}`);
    }
    if (!(container.lifecycle && container.lifecycle.preStop)) {
      problems.push(`${who}: no lifecycle.preStop (endpoints need time to drop the pod)`);
    }
  }

  const resources = container.resources || {};
  for (const kind of ['requests', 'limits']) {
    for (const resource of ['cpu', 'memory']) {
      if (!(resources[kind] && resources[kind][resource] !== undefined)) {
        problems.push(`${who}: no resources.${kind}.${resource}`);
      }
    }
  }

  const pod = podSpec.securityContext || {};
  const own = container.securityContext || {};
  const runAsNonRoot = own.runAsNonRoot !== undefined ? own.runAsNonRoot : pod.runAsNonRoot;
  const runAsUser = own.runAsUser !== undefined ? own.runAsUser : pod.runAsUser;
  const seccomp = own.seccompProfile || pod.seccompProfile;
  if (runAsNonRoot !== true) problems.push(`${who}: may run as root: runAsNonRoot is not true`);
  if (runAsUser === undefined) {
    problems.push(`${who}: no numeric runAsUser (runAsNonRoot needs one to check a named USER)`);
  } else if (runAsUser === 0) {
    problems.push(`${who}: runs as root: runAsUser is 0`);
  }
  if (!seccomp || !['RuntimeDefault', 'Localhost'].includes(seccomp.type)) {
    problems.push(`${who}: seccompProfile is not RuntimeDefault`);
  }
  if (own.readOnlyRootFilesystem !== true) {
    problems.push(`${who}: securityContext.readOnlyRootFilesystem is not true`);
  }
  if (own.allowPrivilegeEscalation !== false) {
    problems.push(`${who}: securityContext.allowPrivilegeEscalation is not false`);
  }
  if (own.privileged === true) problems.push(`${who}: securityContext.privileged is true`);
  const drop = (own.capabilities && own.capabilities.drop) || [];
  if (!drop.includes('ALL')) problems.push(`${who}: securityContext.capabilities.drop lacks ALL`);
  return problems;
}

function objectProblems(object) {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) {
    return ['not a Kubernetes object'];
  }
  const problems = [];
  if (!object.apiVersion || !object.kind) problems.push('no apiVersion or kind');
  if (!(object.metadata && object.metadata.name)) problems.push('no metadata.name');
  const Model = object.apiVersion && object.kind ? modelClass(object.apiVersion, object.kind) : null;
  if (object.apiVersion && object.kind && !Model) {
    problems.push(`no schema for ${object.apiVersion} ${object.kind} (unknown kind or apiVersion)`);
  }
  if (Model) problems.push(...validateAgainstSchema(object, Model));
  for (const podSpec of podSpecs(object)) {
    for (const c of podSpec.initContainers || []) problems.push(...containerProblems(podSpec, c, true));
    for (const c of podSpec.containers || []) problems.push(...containerProblems(podSpec, c, false));
  }
  return problems.map((p) => `${describe(object)}: ${p}`);
}

// ---------------------------------------------------------------------------------------------
// Set rules

// What the gateway binary says about its flags: names and the defaults of --shutdown_grace and
// --shutdown_delay.
function gatewayFlags(binary) {
  if (!binary) return null;
  const result = childProcess.spawnSync(binary, ['--helpfull'], { encoding: 'utf8' });
  const text = `${result.stdout || ''}${result.stderr || ''}`;
  const names = new Set();
  for (const m of text.matchAll(/^\s+--([a-z0-9_]+) \(/gm)) names.add(m[1]);
  if (names.size === 0) throw new Error(`${binary} --helpfull listed no flags`);
  const defaultOf = (name) => {
    const m = text.match(new RegExp(`--${name} \\((?:[^()]|\\([^()]*\\))*\\);\\s+default: ([^;]+);`));
    return m ? m[1].trim() : null;
  };
  return { names, shutdownGrace: defaultOf('shutdown_grace'), shutdownDelay: defaultOf('shutdown_delay') };
}

// After SIGTERM the gateway waits up to this long for watch streams to take their final
// status before --shutdown_delay starts (service/server/main.cc).
const kWatchDrainSeconds = 1;

// Seconds of an absl/Go duration such as "20s", "1m30s", "500ms".
function durationSeconds(text) {
  const units = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
  let total = 0;
  let rest = String(text).trim();
  if (rest === '0') return 0;
  while (rest !== '') {
    const m = rest.match(/^(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/);
    if (!m) return NaN;
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

// Flag values from an args list: "--name=value" or "--name value".
function flagValue(args, name) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}` && i + 1 < args.length) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

function selects(selector, labels) {
  if (!selector) return false;
  const match = selector.matchLabels || {};
  for (const [k, v] of Object.entries(match)) if (labels[k] !== v) return false;
  for (const expr of selector.matchExpressions || []) {
    const has = Object.prototype.hasOwnProperty.call(labels, expr.key);
    const values = expr.values || [];
    if (expr.operator === 'In' && !(has && values.includes(labels[expr.key]))) return false;
    if (expr.operator === 'NotIn' && has && values.includes(labels[expr.key])) return false;
    if (expr.operator === 'Exists' && !has) return false;
    if (expr.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function preStopSeconds(container) {
  const hook = container.lifecycle && container.lifecycle.preStop;
  if (!hook) return 0;
  if (hook.sleep && typeof hook.sleep.seconds === 'number') return hook.sleep.seconds;
  const command = (hook.exec && hook.exec.command) || [];
  if (command.length === 2 && /(^|\/)sleep$/.test(command[0])) return Number(command[1]) || 0;
  return 0;
}

function setProblems(objects, flags) {
  const problems = [];
  const of = (kind) => objects.filter((o) => o && o.kind === kind);
  const deployments = of('Deployment');
  if (deployments.length === 0) problems.push('the set has no Deployment');

  for (const d of deployments) {
    const who = describe(d);
    const spec = d.spec || {};
    const template = spec.template || {};
    const podSpec = template.spec || {};
    const podLabels = (template.metadata && template.metadata.labels) || {};
    const containers = podSpec.containers || [];
    const gateway = containers[0] || {};
    const args = gateway.args || [];

    const policies = of('NetworkPolicy').filter((p) => selects((p.spec || {}).podSelector, podLabels));
    if (policies.length === 0) {
      problems.push(`${who}: no NetworkPolicy selects its pods`);
    } else {
      const types = new Set(policies.flatMap((p) => (p.spec || {}).policyTypes || []));
      for (const t of ['Ingress', 'Egress']) {
        if (!types.has(t)) problems.push(`${who}: no NetworkPolicy restricts its ${t.toLowerCase()}`);
      }
    }
    if (!of('PodDisruptionBudget').some((p) => selects((p.spec || {}).selector, podLabels))) {
      problems.push(`${who}: no PodDisruptionBudget selects its pods`);
    }
    const services = of('Service').filter((s) => {
      const selector = (s.spec || {}).selector;
      return selector && selects({ matchLabels: selector }, podLabels);
    });
    if (!services.some((s) => s.spec.clusterIP === 'None')) {
      problems.push(`${who}: no headless Service (clusterIP: None) selects its pods`);
    }
    const scraped = of('ServiceMonitor').some((m) => services.some((s) => {
      const labels = (s.metadata && s.metadata.labels) || {};
      const ports = ((s.spec || {}).ports || []).map((p) => p.name);
      return selects((m.spec || {}).selector, labels) &&
        ((m.spec || {}).endpoints || []).some((e) => ports.includes(e.port));
    }));
    if (!scraped) problems.push(`${who}: no ServiceMonitor scrapes a Service of its pods`);

    // Account quotas are split by --replicas: it must equal the number of pods. When an HPA
    // scales the Deployment, the HPA owns the count (spec.replicas would reset it on every
    // apply) and --replicas must equal its minReplicas.
    const flagReplicas = flagValue(args, 'replicas');
    const scalers = of('HorizontalPodAutoscaler').filter((hpa) => {
      const ref = (hpa.spec || {}).scaleTargetRef || {};
      return ref.kind === 'Deployment' && ref.name === d.metadata.name;
    });
    if (scalers.length === 0) {
      const replicas = spec.replicas === undefined ? 1 : spec.replicas;
      if (flagReplicas === undefined) {
        problems.push(`${who}: no --replicas flag (each of its ${replicas} pods would take the whole account quota)`);
      } else if (Number(flagReplicas) !== replicas) {
        problems.push(`${who}: spec.replicas is ${replicas} but --replicas=${flagReplicas}; they must be equal (the quota is split by --replicas)`);
      }
    }
    for (const hpa of scalers) {
      const min = hpa.spec.minReplicas === undefined ? 1 : hpa.spec.minReplicas;
      if (spec.replicas !== undefined) {
        problems.push(`${who}: sets spec.replicas ${spec.replicas} while ${describe(hpa)} scales it (every apply would reset the scale)`);
      }
      if (flagReplicas === undefined) {
        problems.push(`${who}: no --replicas flag (each of its pods would take the whole account quota)`);
      } else if (Number(flagReplicas) !== min) {
        problems.push(`${describe(hpa)}: minReplicas ${min} differs from ${who} --replicas=${flagReplicas}`);
      }
    }

    // --config must name a file of a mounted ConfigMap in the set; its keys are flags.
    let config = {};
    const configPath = flagValue(args, 'config');
    if (configPath === undefined) {
      problems.push(`${who}: no --config flag`);
    } else {
      const mount = (gateway.volumeMounts || []).find(
        (m) => path.posix.dirname(configPath) === m.mountPath.replace(/\/$/, ''));
      const volume = mount && (podSpec.volumes || []).find((v) => v.name === mount.name);
      const mapName = volume && volume.configMap && volume.configMap.name;
      const map = mapName && of('ConfigMap').find((c) => c.metadata.name === mapName);
      const key = path.posix.basename(configPath);
      if (!mapName) {
        problems.push(`${who}: --config=${configPath} is not in a mounted ConfigMap volume`);
      } else if (!map || !(map.data && map.data[key] !== undefined)) {
        problems.push(`${who}: --config=${configPath}: ConfigMap ${mapName} with key ${key} is not in the set`);
      } else {
        try {
          config = JSON.parse(map.data[key]);
        } catch (e) {
          problems.push(`ConfigMap ${mapName}: ${key} is not valid JSON: ${e.message}`);
        }
        if (flags) {
          for (const k of Object.keys(config)) {
            if (k !== 'profiles' && (k === 'config' || !flags.names.has(k))) {
              problems.push(`ConfigMap ${mapName}: ${key}: unknown setting "${k}" (not a gateway flag)`);
            }
          }
        }
      }
    }
    if (flags) {
      for (const arg of args) {
        const m = arg.match(/^--?([a-z0-9_]+)/);
        if (m && !flags.names.has(m[1])) problems.push(`${who}: unknown gateway flag ${arg}`);
      }
    }

    // Shutdown, all within the grace period: preStop; then SIGTERM, up to 1 s for watch
    // streams to take their final status, --shutdown_delay, and --shutdown_grace.
    if (flags && (flags.shutdownGrace === null || flags.shutdownDelay === null)) {
      problems.push(`${who}: cannot read the defaults of --shutdown_grace and --shutdown_delay from the gateway's --helpfull`);
    }
    const graceText = flagValue(args, 'shutdown_grace') || config.shutdown_grace ||
      (flags && flags.shutdownGrace) || '20s';
    const delayText = flagValue(args, 'shutdown_delay') || config.shutdown_delay ||
      (flags && flags.shutdownDelay) || '0';
    const grace = durationSeconds(graceText);
    const delay = durationSeconds(delayText);
    const preStop = preStopSeconds(gateway);
    const period = podSpec.terminationGracePeriodSeconds === undefined ? 30
      : podSpec.terminationGracePeriodSeconds;
    if (Number.isNaN(grace)) {
      problems.push(`${who}: cannot read --shutdown_grace "${graceText}"`);
    } else if (Number.isNaN(delay)) {
      problems.push(`${who}: cannot read --shutdown_delay "${delayText}"`);
    } else if (!(period > preStop + kWatchDrainSeconds + delay + grace)) {
      problems.push(`${who}: terminationGracePeriodSeconds ${period} is not more than preStop ${preStop} s + watch drain ${kWatchDrainSeconds} s + --shutdown_delay ${delay} s + --shutdown_grace ${grace} s`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Dockerfile rules

function dockerfileProblems(file) {
  const { validate } = require('dockerfile-utils');
  const { DockerfileParser } = require('dockerfile-ast');
  const text = fs.readFileSync(file, 'utf8');
  const where = path.basename(file);
  const problems = [];
  for (const d of validate(text)) {
    problems.push(`${where}:${d.range.start.line + 1}: ${d.message}`);
  }

  const dockerfile = DockerfileParser.parse(text);
  const defaults = {};
  const stages = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    const line = instruction.getRange().start.line + 1;
    const args = instruction.getArguments().map((a) => a.getValue());
    if (keyword === 'ARG' && stages.length === 0) {
      for (const a of args) {
        const [name, ...value] = a.split('=');
        if (value.length) defaults[name] = value.join('=');
      }
    } else if (keyword === 'FROM') {
      const image = (args[0] || '').replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (_, name) => (defaults[name] !== undefined ? defaults[name] : ''));
      const named = args.length >= 3 && args[1].toUpperCase() === 'AS' ? args[2] : null;
      const previous = stages.some((s) => s.name && s.name === image);
      if (!previous && image !== 'scratch') {
        const problem = imageProblem(image);
        if (problem) problems.push(`${where}:${line}: FROM ${problem}`);
      }
      stages.push({ name: named, line, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push({ keyword, line, args, instruction });
    }
  }
  if (stages.length === 0) return problems.concat([`${where}: no FROM`]);

  const last = stages[stages.length - 1].instructions;
  const users = last.filter((i) => i.keyword === 'USER');
  const user = users.length ? users[users.length - 1].args[0] || '' : null;
  if (user === null) {
    problems.push(`${where}: the final stage has no USER (it would run as root)`);
  } else if (!/^\d+(:\d+)?$/.test(user)) {
    problems.push(`${where}: USER ${user} is not numeric (runAsNonRoot cannot verify a name)`);
  } else if (Number(user.split(':')[0]) === 0) {
    problems.push(`${where}: USER ${user} is root`);
  }
  const entrypoints = last.filter((i) => i.keyword === 'ENTRYPOINT');
  if (entrypoints.length === 0) {
    problems.push(`${where}: the final stage has no ENTRYPOINT`);
  } else {
    const raw = (entrypoints[entrypoints.length - 1].instruction.getRawArgumentsContent() || '').trim();
    let exec = false;
    try {
      exec = Array.isArray(JSON.parse(raw));
    } catch (e) {
      exec = false;
    }
    if (!exec) problems.push(`${where}: ENTRYPOINT is in shell form (use exec form: ["/path", ...])`);
  }
  const exposed = new Set(last.filter((i) => i.keyword === 'EXPOSE')
    .flatMap((i) => i.args.map((a) => a.split('/')[0])));
  for (const port of ['50051', '9090']) {
    if (!exposed.has(port)) problems.push(`${where}: the final stage does not EXPOSE ${port}`);
  }
  const copiesList = last.some((i) => i.keyword === 'COPY' &&
    i.args.some((a) => a.endsWith('scripts/runtime-packages.txt')));
  if (!copiesList) {
    problems.push(`${where}: the final stage does not install scripts/runtime-packages.txt`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Inputs

function parseDocuments(text, origin) {
  const objects = [];
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${origin}: ${doc.errors[0].message}`);
    const value = doc.toJSON();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

function render(kubectl, dir) {
  const result = childProcess.spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8' });
  if (result.error) throw new Error(`cannot run ${kubectl}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`kubectl kustomize ${dir} failed: ${(result.stderr || '').trim()}`);
  }
  return parseDocuments(result.stdout, dir);
}

function checkFile(file, flags) {
  const base = path.basename(file);
  if (base.startsWith('Dockerfile')) return dockerfileProblems(file);
  const text = fs.readFileSync(file, 'utf8');
  const objects = parseDocuments(text, file);
  const problems = objects.flatMap(objectProblems);
  if (/^# scope: set$/m.test(text)) problems.push(...setProblems(objects, flags));
  return problems;
}

// Every fixture must be rejected for exactly the problems its `# expect:` lines name.
function checkBroken(dir, flags) {
  const failures = [];
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.startsWith('Dockerfile')).sort();
  if (files.length === 0) failures.push(`${dir}: no fixtures`);
  for (const f of files) {
    const file = path.join(dir, f);
    const expected = [...fs.readFileSync(file, 'utf8').matchAll(/^# expect: (.+)$/gm)].map((m) => m[1].trim());
    let problems;
    try {
      problems = checkFile(file, flags);
    } catch (e) {
      problems = [e.message];
    }
    if (expected.length === 0) {
      failures.push(`${f}: has no "# expect:" line`);
      continue;
    }
    if (problems.length === 0) {
      failures.push(`${f}: was accepted, expected a rejection for: ${expected.join('; ')}`);
      continue;
    }
    for (const e of expected) {
      if (!problems.some((p) => p.includes(e))) failures.push(`${f}: no problem names "${e}"`);
    }
    for (const p of problems) {
      if (!expected.some((e) => p.includes(e))) failures.push(`${f}: unexpected problem: ${p}`);
    }
    for (const p of problems) console.log(`rejected ${f}: ${p}`);
  }
  return failures;
}

function main(argv) {
  const options = { kubectl: 'kubectl', gateway: null, render: [], manifest: [], dockerfile: [], broken: [] };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in options) || i + 1 >= argv.length) {
      console.error(`usage: check.js [--kubectl BIN] [--gateway BIN] [--render DIR]... [--manifest FILE]... [--dockerfile FILE]... [--broken DIR]... (bad argument ${argv[i]})`);
      return 2;
    }
    const value = argv[++i];
    if (Array.isArray(options[name])) options[name].push(value);
    else options[name] = value;
  }

  const flags = gatewayFlags(options.gateway);
  const problems = [];
  let checked = 0;
  for (const dir of options.render) {
    let objects;
    try {
      objects = render(options.kubectl, dir);
    } catch (e) {
      problems.push(e.message);
      continue;
    }
    const found = objects.flatMap(objectProblems).concat(setProblems(objects, flags));
    problems.push(...found.map((p) => `${dir}: ${p}`));
    checked += objects.length;
    console.log(`${found.length ? 'FAIL' : 'ok  '} ${dir}: ${objects.length} objects (${objects.map((o) => o.kind).join(', ')})`);
  }
  for (const file of options.manifest) {
    const found = checkFile(file, flags);
    problems.push(...found.map((p) => `${file}: ${p}`));
    console.log(`${found.length ? 'FAIL' : 'ok  '} ${file}`);
    checked += 1;
  }
  for (const file of options.dockerfile) {
    const found = dockerfileProblems(file);
    problems.push(...found);
    console.log(`${found.length ? 'FAIL' : 'ok  '} ${file}`);
    checked += 1;
  }
  for (const dir of options.broken) {
    const failures = checkBroken(dir, flags);
    problems.push(...failures);
    console.log(`${failures.length ? 'FAIL' : 'ok  '} ${dir}: every fixture rejected for its named problem`);
    checked += 1;
  }
  if (checked === 0 && problems.length === 0) {
    console.error('nothing to check');
    return 2;
  }
  for (const p of problems) console.error(`problem: ${p}`);
  return problems.length ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
