#!/usr/bin/env node
// The "what users would do instead" anchor of `make bench`: the official Alibaba Cloud IoT
// client (@alicloud/iot20180120, pinned by tests/interop/package.json + lock) calling
// CreateOTAVerifyJob on the emulator directly, closed loop at a fixed concurrency, for a
// bounded time after a warm-up. Prints one JSON line in the shape of otaverify-load's, plus the
// process's own cost: CPU microseconds per answered call (process.cpuUsage over the whole run,
// warm-up included, divided by every answered call) and peak RSS (resourceUsage().maxRSS).
//
// Keep-alive: the SDK's requests go through httpx, whose module-wide http.Agent has
// keepAlive: true and no socket bound, so connections are reused and at most `concurrency` are
// open. (RuntimeOptions.keepAlive is not the switch: openapi-client does not pass it on, and
// where @alicloud/tea-typescript honours it, it builds a new Agent per request.) The SDK's own
// retries stay off (its default), as the gateway's other baselines make one attempt per call.
//
// Usage: node sdk_bench.js --endpoint 127.0.0.1:PORT --concurrency 64 --duration 10
//          [--warmup 2] [--firmware_prefix load-fw-] [--firmware_offset 0]
// Needs NODE_PATH pointing at the node_modules `npm ci` made from the pinned lock file.
'use strict';

const Iot = require('@alicloud/iot20180120');
const OpenApi = require('@alicloud/openapi-client');

function parseArgs(argv) {
  const args = {
    endpoint: '127.0.0.1:18080', concurrency: 16, duration: 10, warmup: 0,
    product_key: 'a1LoadProduct', device: 'load-device-1', firmware_prefix: 'load-fw-',
    firmware_offset: 0, timeout_ms: 2000,
  };
  for (let i = 2; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in args) || i + 1 >= argv.length) throw new Error(`unknown or empty flag ${argv[i]}`);
    args[name] = typeof args[name] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return args;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))];
}

async function main() {
  const args = parseArgs(process.argv);
  const client = new Iot.default(new OpenApi.Config({
    accessKeyId: process.env.ALIBABA_CLOUD_ACCESS_KEY_ID || 'emulator-access-key-id',
    accessKeySecret: process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET || 'emulator-access-key-secret',
    endpoint: args.endpoint, protocol: 'HTTP',
    readTimeout: args.timeout_ms, connectTimeout: args.timeout_ms,
  }));

  const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
  const start = nowMs();
  const measureFrom = start + args.warmup * 1000;
  const end = measureFrom + args.duration * 1000;
  const latencies = [];
  const outcomes = {};
  let next = 0;
  let answered = 0;
  const cpuBefore = process.cpuUsage();

  async function chain() {
    while (nowMs() < end) {
      const request = new Iot.CreateOTAVerifyJobRequest({
        productKey: args.product_key,
        firmwareId: `${args.firmware_prefix}${args.firmware_offset + next++}`,
        targetDeviceName: [args.device],
      });
      const started = nowMs();
      let outcome;
      try {
        const response = await client.createOTAVerifyJob(request);
        outcome = response.body && response.body.success ? 'OK' : `FAILED ${response.body.code}`;
      } catch (e) {
        outcome = `ERROR ${e.code || e.name}`;
      }
      ++answered;
      if (started >= measureFrom) {
        latencies.push(nowMs() - started);
        outcomes[outcome] = (outcomes[outcome] || 0) + 1;
      }
    }
  }
  await Promise.all(Array.from({ length: args.concurrency }, chain));

  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (Math.min(end, nowMs()) - measureFrom) / 1000;
  latencies.sort((a, b) => a - b);
  const fixed = (x) => Number(x.toFixed(3));
  console.log(JSON.stringify({
    calls: latencies.length, calls_total: answered, seconds: fixed(seconds),
    calls_per_second: Number((latencies.length / Math.max(seconds, 1e-9)).toFixed(1)),
    latency_ms: {
      p50: fixed(percentile(latencies, 50)), p90: fixed(percentile(latencies, 90)),
      p99: fixed(percentile(latencies, 99)), 'p99.9': fixed(percentile(latencies, 99.9)),
    },
    outcomes,
    cpu_us_per_call: Number(((cpu.user + cpu.system) / Math.max(1, answered)).toFixed(1)),
    peak_rss_kib: process.resourceUsage().maxRSS,
  }));
  // Kept-alive sockets would hold the event loop open.
  process.exit(0);
}

// Bounded: a run that hangs past its duration plus a margin fails.
const args = parseArgs(process.argv);
setTimeout(() => { console.error('sdk_bench: did not finish in time'); process.exit(1); },
  (args.warmup + args.duration) * 1000 + args.timeout_ms + 10000).unref();
main().catch((e) => { console.error(`sdk_bench: ${e.stack || e}`); process.exit(1); });
