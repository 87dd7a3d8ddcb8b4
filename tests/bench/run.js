#!/usr/bin/env node
// The driver of `make bench` (run by tests/bench/run.sh, which builds and installs first).
//
// On loopback, in one go: starts aliyun-iot-emulator (quota off, no added latency, a seed with
// one fresh unverified firmware per call so no create collides) and otaverify-gateway (default
// --upstream_max_connections, --upstream_quotas=off, metrics on 127.0.0.1:0), then runs each
// scenario closed loop at each concurrency for BENCH_WARMUP + BENCH_SECONDS, BENCH_ROUNDS times
// (every scenario and concurrency once per round, the order reversed every other round, so a
// drift of the machine's state spreads over all of them instead of landing on one):
//   grpc     the gRPC ceiling: otaverify-load --call=health (the gateway's health Check, no
//            upstream), gateway CPU and RSS sampled as for the gateway row
//   http     the HTTP ceiling: bench_direct_transport (SignRpcCall + CurlTransport, the same
//            signed CreateOTAVerifyJob calls without gRPC), its own CPU and RSS
//   gateway  end to end: otaverify-load → gateway → emulator
//   sdk      the official Alibaba Cloud Node SDK calling the emulator directly, keep-alive on
// The emulator is reset before every run (its jobs forgotten, so firmware indexes restart, and
// its counters zeroed). Gateway CPU is utime + stime from /proc/<pid>/stat over the whole run
// (warm-up included) divided by every call answered; its peak RSS is VmHWM, reset before each
// run through /proc/<pid>/clear_refs; upstream connections opened are the emulator's
// connections_accepted over the run (the driver's own control connections subtracted); its
// context switches per call are summed over its threads' /proc/<pid>/task/*/status.
// Prints the machine, the versions, one table (each figure the median over the rounds, with the
// range of calls/s), the ratios and the targets (from the medians).
//
// Every wait is bounded; every child is stopped on exit, error or signal.
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

function flag(name) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`--${name} is required`);
  return process.argv[i + 1];
}
const buildDir = flag('build_dir');
const sourceDir = flag('source_dir');
const seconds = Number(process.env.BENCH_SECONDS || 5);
const rounds = Number(process.env.BENCH_ROUNDS || 3);
if (!Number.isInteger(rounds) || rounds < 1) {
  throw new Error(
    `BENCH_ROUNDS must be a whole number of at least 1, not "${process.env.BENCH_ROUNDS}"`);
}
const warmup = Number(process.env.BENCH_WARMUP || 2);
const concurrencies = (process.env.BENCH_CONCURRENCY || '1 16 64').trim().split(/\s+/).map(Number);
const scenarios = (process.env.BENCH_SCENARIOS || 'grpc http gateway sdk').trim().split(/\s+/);
const maxConnections = 8;  // the gateway's default --upstream_max_connections
// Extra gateway flags for diagnosis (e.g. --log_level=warning); the table says they were used.
const extraGatewayArgs = (process.env.BENCH_GATEWAY_ARGS || '').trim().split(/\s+/).filter(Boolean);
// Firmwares in the seed: more than the fastest scenario makes in one run (warm-up included).
const firmwares = Math.ceil(30000 * (warmup + seconds));

const bin = {
  emulator: path.join(buildDir, 'emulator/aliyun-iot-emulator'),
  gateway: path.join(buildDir, 'service/otaverify-gateway'),
  load: path.join(buildDir, 'client/otaverify-load'),
  direct: path.join(buildDir, 'tests/bench/bench_direct_transport'),
};
const workDir = path.join(buildDir, 'bench/run');
fs.mkdirSync(workDir, { recursive: true });
const credentialsEnv = {
  ALIBABA_CLOUD_ACCESS_KEY_ID: 'emulator-access-key-id',
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'emulator-access-key-secret',
};

// ---- processes -------------------------------------------------------------------------------

const children = new Set();
function stopAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
process.on('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { stopAll(); process.exit(1); });
}

function startServer(name, argv, env) {
  const logPath = path.join(workDir, `${name}.log`);
  const log = fs.openSync(logPath, 'w');
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', log, log], env: { ...process.env, ...env },
  });
  fs.closeSync(log);
  children.add(child);
  return { child, logPath };
}

// Waits for a JSON log line holding `key` (e.g. the "listening" line's "address").
async function waitForLogValue(server, key, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) break;
    for (const line of fs.readFileSync(server.logPath, 'utf8').split('\n')) {
      try {
        const parsed = JSON.parse(line);
        if (parsed[key]) return parsed[key];
      } catch (e) { /* not a JSON line */ }
    }
    await sleep(50);
  }
  throw new Error(`no "${key}" in ${server.logPath}:\n${fs.readFileSync(server.logPath, 'utf8')}`);
}

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

// Runs a benchmark client; resolves with its last stdout line parsed as JSON.
function runClient(argv, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), (warmup + seconds + 20) * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const last = stdout.trim().split('\n').pop();
      try {
        resolve({ ...JSON.parse(last), exit: code ?? signal });
      } catch (e) {
        reject(new Error(`${path.basename(argv[0])} exited ${code ?? signal}: ${stderr}`));
      }
    });
  });
}

// ---- /proc and HTTP probes -------------------------------------------------------------------

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

// utime + stime of `pid`, in microseconds.
function cpuMicros(pid) {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks * 1e6;
}

// Context switches (voluntary + involuntary) of every thread of `pid` alive now: each one is a
// thread going to sleep or being preempted, the price of handing a call between threads.
function contextSwitches(pid) {
  let total = 0;
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) total += Number(m[1]);
    } catch (e) {
      // the thread ended meanwhile
    }
  }
  return total;
}

// TCP connections of `pid` established to `port` on loopback right now: its socket descriptors
// matched against /proc/net/tcp (state 01, ESTABLISHED; the remote port is the hex after the
// colon of the third field, the inode the tenth).
function establishedTo(pid, port) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch (e) {
      // closed meanwhile
    }
  }
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines = [];
    try {
      lines = fs.readFileSync(table, 'utf8').split('\n').slice(1);
    } catch (e) {
      continue;
    }
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '01' || !inodes.has(f[9])) continue;
      if (parseInt(f[2].split(':')[1], 16) === port) ++count;
    }
  }
  return count;
}

function peakRssKib(pid) {
  const match = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

// Resets VmHWM to the current RSS (Linux ≥ 4.0), so each run reports its own peak.
let peakResettable = true;
function resetPeakRss(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch (e) {
    peakResettable = false;
  }
}

function httpRequest(url, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: 10000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function metric(text, name) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

// ---- machine and versions --------------------------------------------------------------------

function tryRun(cmd, args) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch (e) {
    return 'unknown';
  }
}

function machine() {
  const model = (/model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) || [])[1];
  const memGib = os.totalmem() / 2 ** 30;
  return `${tryRun('nproc', [])} cores (${model || 'unknown CPU'}), ${memGib.toFixed(1)} GiB, ` +
    `Linux ${os.release()}`;
}

function versions() {
  const sdk = ['iot20180120', 'openapi-client', 'tea-typescript'].map((name) => {
    try {
      const file = require.resolve(`@alicloud/${name}/package.json`);
      return `@alicloud/${name} ${JSON.parse(fs.readFileSync(file, 'utf8')).version}`;
    } catch (e) {
      return `@alicloud/${name} unknown`;
    }
  });
  return [
    `gateway ${tryRun('git', ['-C', sourceDir, 'describe', '--always', '--dirty'])}`,
    `gRPC ${tryRun('pkg-config', ['--modversion', 'grpc++'])}`,
    `libcurl ${tryRun('pkg-config', ['--modversion', 'libcurl'])}`,
    `node ${process.version}`, ...sdk,
  ].join(', ');
}

// ---- the scenarios ---------------------------------------------------------------------------

const SCENARIOS = {
  grpc: 'gRPC ceiling: health Check on the gateway, no upstream',
  http: 'HTTP ceiling: SignRpcCall + CurlTransport, no gRPC',
  gateway: 'gateway end to end: client → gateway → emulator',
  sdk: 'official Node SDK → emulator, keep-alive',
};

async function main() {
  const loadBefore = os.loadavg();
  // One product, one device, `firmwares` unverified firmwares load-fw-0.. (as WriteLoadSeed).
  const seedPath = path.join(workDir, 'seed.json');
  const ids = Array.from({ length: firmwares }, (_, i) => `{"firmware_id":"load-fw-${i}","status":0}`);
  fs.writeFileSync(seedPath, '{"instances":[],"products":[{"product_key":"a1LoadProduct",' +
    `"iot_instance_id":"","devices":["load-device-1"],"firmwares":[${ids.join(',')}]}]}`);

  const emulator = startServer('emulator',
    [bin.emulator, '--listen=127.0.0.1:0', `--seed=${seedPath}`, '--quota=off']);
  const emulatorAddress = await waitForLogValue(emulator, 'address');
  const emulatorUrl = `http://${emulatorAddress}`;
  const emulatorPort = Number(emulatorAddress.split(':').pop());
  const gateway = startServer('gateway', [bin.gateway, '--listen=127.0.0.1:0',
    '--metrics_listen=127.0.0.1:0', `--endpoint=${emulatorUrl}`, '--allow_insecure_endpoint',
    '--upstream_quotas=off', `--upstream_max_connections=${maxConnections}`,
    ...extraGatewayArgs], {
    ...credentialsEnv, ALIBABA_CLOUD_SECURITY_TOKEN: '',
    ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true',
  });
  const gatewayAddress = await waitForLogValue(gateway, 'address');
  const metricsAddress = await waitForLogValue(gateway, 'metrics_address');
  const gatewayPid = gateway.child.pid;

  // The driver's own control connections count in connections_accepted: measure them once.
  await httpRequest(`${emulatorUrl}/_emulator/reset`, 'POST');
  const controlConnections =
    JSON.parse(await httpRequest(`${emulatorUrl}/_emulator/stats`)).connections_accepted;

  const common = [`--duration=${seconds}s`, `--warmup=${warmup}s`, `--firmwares=${firmwares}`];
  for (const scenario of scenarios) {
    if (!SCENARIOS[scenario]) throw new Error(`unknown scenario ${scenario}`);
  }
  const plan = scenarios.flatMap((scenario) => concurrencies.map((c) => [scenario, c]));
  const rows = [];
  for (let round = 1; round <= rounds; ++round) {
    for (const [scenario, concurrency] of round % 2 ? plan : [...plan].reverse()) {
      await httpRequest(`${emulatorUrl}/_emulator/reset`, 'POST');
      const viaGateway = scenario === 'grpc' || scenario === 'gateway';
      if (viaGateway) resetPeakRss(gatewayPid);
      const cpuBefore = cpuMicros(gatewayPid);
      const switchesBefore = contextSwitches(gatewayPid);
      const emulatorCpuBefore = cpuMicros(emulator.child.pid);
      const gatewayConnectionsBefore = metric(
        await httpRequest(`http://${metricsAddress}/metrics`), 'otaverify_http_connections_opened_total');
      let result;
      if (viaGateway) {
        // The most upstream connections the gateway holds at once, sampled through the run.
        let mostOpen = establishedTo(gatewayPid, emulatorPort);
        const sampler = setInterval(() => {
          mostOpen = Math.max(mostOpen, establishedTo(gatewayPid, emulatorPort));
        }, 200);
        try {
          result = await runClient([bin.load, `--target=${gatewayAddress}`,
            `--call=${scenario === 'grpc' ? 'health' : 'create'}`, `--concurrency=${concurrency}`,
            '--deadline=5s', ...common]);
        } finally {
          clearInterval(sampler);
        }
        result.most_upstream_connections_open = mostOpen;
        result.cpu_us_per_call = (cpuMicros(gatewayPid) - cpuBefore) / Math.max(1, result.calls_total);
        result.switches_per_call =
          (contextSwitches(gatewayPid) - switchesBefore) / Math.max(1, result.calls_total);
        result.peak_rss_kib = peakRssKib(gatewayPid);
        result.gateway_connections_opened = metric(
          await httpRequest(`http://${metricsAddress}/metrics`),
          'otaverify_http_connections_opened_total') - gatewayConnectionsBefore;
      } else if (scenario === 'http') {
        result = await runClient([bin.direct, `--endpoint=${emulatorUrl}`,
          `--concurrency=${concurrency}`, `--max_connections=${maxConnections}`, ...common],
        credentialsEnv);
      } else {
        result = await runClient(['node', path.join(sourceDir, 'tests/bench/sdk_bench.js'),
          '--endpoint', emulatorAddress, '--concurrency', String(concurrency),
          '--duration', String(seconds), '--warmup', String(warmup)], credentialsEnv);
      }
      result.emulator_cpu_us_per_call =
        (cpuMicros(emulator.child.pid) - emulatorCpuBefore) / Math.max(1, result.calls_total);
      const stats = JSON.parse(await httpRequest(`${emulatorUrl}/_emulator/stats`));
      result.upstream_connections = Math.max(0, stats.connections_accepted - controlConnections);
      result.scenario = scenario;
      result.concurrency = concurrency;
      result.round = round;
      rows.push(result);
      process.stderr.write(`bench: round ${round}/${rounds} ${scenario} c=${concurrency}: ` +
        `${result.calls_per_second} calls/s\n`);
    }
  }
  const totalGatewayConnections = metric(
    await httpRequest(`http://${metricsAddress}/metrics`), 'otaverify_http_connections_opened_total');
  gateway.child.kill('SIGTERM');
  emulator.child.kill('SIGTERM');

  if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify(rows, null, 1));
  const combined = plan.map(([scenario, c]) =>
    combine(rows.filter((r) => r.scenario === scenario && r.concurrency === c)));
  report(combined, { loadBefore, loadAfter: os.loadavg(), totalGatewayConnections });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// One row from the rounds of one scenario and concurrency: the median of every rate, latency and
// per-call cost, the range of calls/s, the largest peak RSS and connection counts, and the
// outcomes of every call.
function combine(runs) {
  const med = (get) => median(runs.map(get));
  const out = { scenario: runs[0].scenario, concurrency: runs[0].concurrency };
  out.calls_per_second = med((r) => r.calls_per_second);
  out.calls_per_second_range = [Math.min(...runs.map((r) => r.calls_per_second)),
    Math.max(...runs.map((r) => r.calls_per_second))];
  out.latency_ms = {};
  for (const q of Object.keys(runs[0].latency_ms)) out.latency_ms[q] = med((r) => r.latency_ms[q]);
  for (const key of ['cpu_us_per_call', 'switches_per_call', 'emulator_cpu_us_per_call',
    'client_cpu_us_per_call']) {
    if (runs[0][key] !== undefined) out[key] = med((r) => r[key]);
  }
  for (const key of ['peak_rss_kib', 'upstream_connections', 'most_upstream_connections_open']) {
    if (runs[0][key] !== undefined) out[key] = Math.max(...runs.map((r) => r[key]));
  }
  out.outcomes = {};
  for (const r of runs) {
    for (const [outcome, n] of Object.entries(r.outcomes || {})) {
      out.outcomes[outcome] = (out.outcomes[outcome] || 0) + n;
    }
  }
  return out;
}

// ---- the report ------------------------------------------------------------------------------

function report(rows, context) {
  const find = (scenario, concurrency) =>
    rows.find((r) => r.scenario === scenario && r.concurrency === concurrency);
  const ms = (x) => x.toFixed(3);
  const num = (x) => Math.round(x).toLocaleString('en-US');
  const out = [];
  out.push(`machine: ${machine()}`);
  out.push(`versions: ${versions()}`);
  out.push(`load average (1 min) before: ${context.loadBefore[0].toFixed(2)}, ` +
    `after: ${context.loadAfter[0].toFixed(2)}`);
  out.push(`each run: ${warmup} s warm-up + ${seconds} s measured, closed loop, loopback, ` +
    `${rounds} round${rounds > 1 ? 's' : ''} (figures: medians over the rounds); ` +
    `emulator quota off, no added latency; gateway --upstream_max_connections=${maxConnections}` +
    ' (default), --upstream_quotas=off, ' + (extraGatewayArgs.length
      ? `extra gateway flags: ${extraGatewayArgs.join(' ')}`
      : 'default --log_level=info (one access line per call, to a file)'));
  out.push('');
  out.push('| scenario | concurrency | calls/s | calls/s range | p50 ms | p99 ms | CPU µs/call | ' +
    'peak RSS MiB | upstream connections | not OK | emulator CPU µs/call | ' +
    'gateway context switches/call | load client CPU µs/call |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const notOk = Object.entries(r.outcomes || {}).filter(([k]) => k !== 'OK')
      .reduce((sum, [, n]) => sum + n, 0);
    const whose = { grpc: 'gateway', gateway: 'gateway', http: 'bench', sdk: 'node' }[r.scenario];
    out.push(`| ${SCENARIOS[r.scenario]} | ${r.concurrency} | ${num(r.calls_per_second)} | ` +
      `${r.calls_per_second_range.map(num).join('–')} | ${ms(r.latency_ms.p50)} | ` +
      `${ms(r.latency_ms.p99)} | ${r.cpu_us_per_call.toFixed(0)} (${whose}) | ` +
      `${(r.peak_rss_kib / 1024).toFixed(1)} (${whose}) | ` +
      `${r.scenario === 'grpc' ? '–' : r.upstream_connections} | ${notOk} | ` +
      `${r.scenario === 'grpc' ? '–' : r.emulator_cpu_us_per_call.toFixed(0)} | ` +
      `${r.switches_per_call === undefined ? '–' : r.switches_per_call.toFixed(1)} | ` +
      `${r.client_cpu_us_per_call === undefined ? '–' : r.client_cpu_us_per_call.toFixed(0)} |`);
  }
  out.push('');
  out.push('CPU and RSS are those of the process named: the gateway for the gRPC and gateway rows, ' +
    'bench_direct_transport (the whole client) for the HTTP row, node for the SDK row. ' +
    'Every process shares the same cores: the load client (otaverify-load, its own CPU in the ' +
    'last column), the gateway and the emulator. Peak RSS is the largest of the rounds, ' +
    'upstream connections the most opened in one run, not OK the sum over the rounds.' +
    (peakResettable ? '' : ' (VmHWM could not be reset: the gateway peaks are cumulative.)'));
  out.push('');
  out.push('| concurrency | gateway / HTTP ceiling calls/s | gateway / gRPC ceiling calls/s | ' +
    'gateway / SDK calls/s | gateway p50 − HTTP p50 | gateway CPU / HTTP CPU per call |');
  out.push('|---:|---:|---:|---:|---:|---:|');
  const pct = (a, b) => (a && b ? `${(100 * a / b).toFixed(0)} %` : 'n/a');
  const times = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : 'n/a');
  for (const c of concurrencies) {
    const g = find('gateway', c);
    if (!g) continue;
    const h = find('http', c);
    const grpc = find('grpc', c);
    const sdk = find('sdk', c);
    out.push(`| ${c} | ${pct(g.calls_per_second, h && h.calls_per_second)} | ` +
      `${pct(g.calls_per_second, grpc && grpc.calls_per_second)} | ` +
      `${times(g.calls_per_second, sdk && sdk.calls_per_second)} | ` +
      `${h ? `${((g.latency_ms.p50 - h.latency_ms.p50) * 1000).toFixed(0)} µs` : 'n/a'} | ` +
      `${times(g.cpu_us_per_call, h && h.cpu_us_per_call)} |`);
  }
  out.push('');
  out.push(...targets(rows, find, context));
  console.log(out.join('\n'));
}

function targets(rows, find, context) {
  const lines = ['Targets:'];
  const mark = (ok) => (ok ? 'met' : 'NOT met');
  const low = Math.min(...concurrencies);
  const high = Math.max(...concurrencies);
  const g1 = find('gateway', low);
  const h1 = find('http', low);
  if (g1 && h1) {
    const overhead = (g1.latency_ms.p50 - h1.latency_ms.p50) * 1000;
    lines.push(`- gateway p50 overhead over the direct HTTP path at concurrency ${low} ≤ 150 µs: ` +
      `${overhead.toFixed(0)} µs — ${mark(overhead <= 150)}`);
  }
  const g64 = find('gateway', high);
  const h64 = find('http', high);
  if (g64 && h64) {
    const share = g64.calls_per_second / h64.calls_per_second;
    lines.push(`- throughput at concurrency ${high} ≥ 50 % of the HTTP ceiling: ` +
      `${(100 * share).toFixed(0)} % — ${mark(share >= 0.5)}`);
  }
  const sdkRatios = concurrencies.map((c) => [c, find('gateway', c), find('sdk', c)])
    .filter(([, g, s]) => g && s).map(([c, g, s]) => [c, g.calls_per_second / s.calls_per_second]);
  if (sdkRatios.length) {
    lines.push(`- ≥ 3× the official Node SDK's calls/s at equal concurrency: ` +
      sdkRatios.map(([c, x]) => `${c}: ${x.toFixed(2)}× ${mark(x >= 3)}`).join(', '));
  }
  const cpuRatios = concurrencies.map((c) => [c, find('gateway', c), find('http', c)])
    .filter(([, g, h]) => g && h).map(([c, g, h]) => [c, g.cpu_us_per_call / h.cpu_us_per_call]);
  if (cpuRatios.length) {
    lines.push('- gateway CPU per call ≤ 1.5× the direct transport\'s: ' +
      cpuRatios.map(([c, x]) => `${c}: ${x.toFixed(2)}× ${mark(x <= 1.5)}`).join(', '));
  }
  const gatewayRows = rows.filter((r) => r.scenario === 'gateway' || r.scenario === 'grpc');
  if (gatewayRows.length) {
    const peak = Math.max(...gatewayRows.map((r) => r.peak_rss_kib)) / 1024;
    lines.push(`- gateway peak RSS ≤ 40 MB: ${peak.toFixed(1)} MiB — ${mark(peak * 1.048576 <= 40)}`);
  }
  const upstream = rows.filter((r) => r.scenario === 'gateway');
  if (upstream.length) {
    // Judged on the connections open at once. Over all runs the gateway may open more: it
    // retires a connection idle longer than --upstream_max_idle_age (30 s), and other
    // scenarios run between its rounds.
    const open = Math.max(...upstream.map((r) => r.most_upstream_connections_open));
    const opened = Math.max(...upstream.map((r) => r.upstream_connections));
    lines.push(`- upstream connections ≤ the configured maximum (${maxConnections}): at most ` +
      `${open} open at once (sampled every 200 ms), at most ${opened} opened in one run, ` +
      `${context.totalGatewayConnections} opened by the gateway over all runs — ` +
      `${mark(open <= maxConnections && opened <= maxConnections)}`);
  }
  return lines;
}

const overall = setTimeout(() => {
  console.error('bench: did not finish in time');
  process.exit(1);
}, (rounds * scenarios.length * concurrencies.length * (warmup + seconds + 30) + 120) * 1000);
overall.unref();
main().then(() => process.exit(0), (e) => {
  console.error(`bench: ${e.stack || e}`);
  process.exit(1);
});
