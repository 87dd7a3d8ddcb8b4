#!/usr/bin/env node
// The official Alibaba Cloud IoT client (@alicloud/iot20180120) against our emulator.
//
// Proves the emulator (and so our signer, which it verifies with) accepts what the official SDK
// signs, V3 (the SDK default) and V1 (signatureAlgorithm 'v2'), and rejects tampered variants of
// requests the SDK itself signed with the exact error codes of protocol.md §8:
//   one signature character flipped  -> SignatureDoesNotMatch
//   the same request sent again      -> SignatureNonceUsed
//   signed 20 minutes in the past    -> InvalidTimeStamp.Expired
// The tampered requests are captured, not hand-built: the SDK sends them to a local capture
// server (which answers like the service), then they are replayed to the emulator with Node's
// http module, byte for byte apart from the one tampered field.
//
// Usage: node sdk_client_emulator_check.js /path/to/aliyun-iot-emulator
// Loopback only; every wait is bounded; the emulator is always stopped; exit 1 on any failure.
'use strict';

const { spawn } = require('child_process');
const http = require('http');
const readline = require('readline');

const Iot = require('@alicloud/iot20180120');
const OpenApi = require('@alicloud/openapi-client');
const OpenApiUtil = require('@alicloud/openapi-util').default;

const ACCESS_KEY_ID = 'emulator-access-key-id';
const ACCESS_KEY_SECRET = 'emulator-access-key-secret';
const PRODUCT_KEY = 'a1DemoProduct';
const START_TIMEOUT_MS = 10000;
const REQUEST_TIMEOUT_MS = 5000;

const checks = [];  // [ok, description]
function check(ok, description, detail) {
  checks.push([ok, description]);
  console.log(`${ok ? 'PASS' : 'FAIL'} ${description}${ok || !detail ? '' : `\n     ${detail}`}`);
}

function startEmulator(binary) {
  const child = spawn(binary, ['--listen=127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const address = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('emulator did not print its address in time')),
      START_TIMEOUT_MS);
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        const parsed = JSON.parse(line);
        if (parsed.message !== 'listening' || !parsed.address) throw new Error(line);
        resolve(parsed.address);
      } catch (e) {
        reject(new Error(`unexpected first emulator line: ${line}`));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited early (${code ?? signal}): ${stderr}`));
    });
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
  return { child, address, stderr: () => stderr };
}

// Every client socket this process opens (the SDK's and ours keep connections alive). They are
// closed before the emulator is stopped: it waits for idle keep-alive connections on SIGTERM.
const sockets = new Set();
const realHttpRequest = http.request;
http.request = function tracked(...args) {
  const req = realHttpRequest.apply(this, args);
  req.on('socket', (socket) => sockets.add(socket));
  return req;
};

function stopEmulator(child) {
  for (const socket of sockets) socket.destroy();
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      console.log('note: the emulator ignored SIGTERM for 3 s; killed');
      child.kill('SIGKILL');
    }, 3000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

function client(endpoint, v1) {
  const config = new OpenApi.Config({
    accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET, endpoint, protocol: 'HTTP',
    readTimeout: REQUEST_TIMEOUT_MS, connectTimeout: REQUEST_TIMEOUT_MS,
  });
  if (v1) config.signatureAlgorithm = 'v2';
  return new Iot.default(config);
}

function verifyJobRequest(firmwareId, device) {
  return new Iot.CreateOTAVerifyJobRequest({
    productKey: PRODUCT_KEY, firmwareId, targetDeviceName: [device],
  });
}

// A loopback HTTP server that records what the SDK sends and answers like the service.
function startCaptureServer() {
  const captured = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      captured.push({ method: req.method, path: req.url, headers: req.headers,
        body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ RequestId: 'captured', Success: true,
        Data: { JobId: 'captured', UtcCreate: '2024-01-01T00:00:00.000Z' } }));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, captured,
      port: server.address().port }));
  });
}

// Has the SDK sign one CreateOTAVerifyJob for the emulator at `address` and returns it as sent.
// The SDK's own http.request call is steered to the capture server, so the request (Host header
// included) is exactly what the SDK would have sent to the emulator, yet never reaches it.
async function captureSigned(capture, address, v1, firmwareId, device) {
  const before = capture.captured.length;
  const realRequest = http.request;
  http.request = function steered(options, ...rest) {
    return realRequest.call(this, { ...options, host: '127.0.0.1', port: capture.port }, ...rest);
  };
  try {
    await client(address, v1).createOTAVerifyJob(verifyJobRequest(firmwareId, device));
  } finally {
    http.request = realRequest;
  }
  if (capture.captured.length !== before + 1) throw new Error('the SDK request was not captured');
  const request = capture.captured[before];
  if (request.headers.host !== address) throw new Error(`captured Host ${request.headers.host}`);
  return request;
}

// Sends a captured request to `address` (host:port) unchanged but for what the caller edited.
function replay(address, request) {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method: request.method,
      path: request.path, headers: request.headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body = null;
        try { body = JSON.parse(text); } catch (e) { /* reported by the caller */ }
        resolve({ status: res.statusCode, text, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error('replay timed out')));
    req.on('error', reject);
    req.end(request.body);
  });
}

function clone(request) {
  return { method: request.method, path: request.path, headers: { ...request.headers },
    body: Buffer.from(request.body) };
}

// Replaces one character of the signature with a different one of the same alphabet.
function flip(ch, alphabet) {
  const i = alphabet.indexOf(ch);
  return alphabet[(i + 1) % alphabet.length];
}

function withFlippedSignature(request, v1) {
  const out = clone(request);
  if (v1) {
    // Edit the raw query in place so every other byte stays as the SDK encoded it.
    out.path = out.path.replace(/([?&]Signature=)([^&]*)/, (all, name, encoded) => {
      const signature = decodeURIComponent(encoded);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      return name + encodeURIComponent(flip(signature[0], alphabet) + signature.slice(1));
    });
    if (out.path === request.path) throw new Error(`no Signature in ${request.path}`);
  } else {
    const auth = out.headers.authorization;
    const at = auth.indexOf('Signature=') + 'Signature='.length;
    out.headers.authorization = auth.slice(0, at) + flip(auth[at], '0123456789abcdef') +
      auth.slice(at + 1);
  }
  return out;
}

function expectRejected(response, code, description) {
  const got = response.body && response.body.Code;
  check(response.status >= 400 && got === code, description,
    `HTTP ${response.status}, body ${response.text}`);
}

function expectAccepted(response, description) {
  const ok = response.status === 200 && response.body && response.body.Success === true &&
    response.body.Data && typeof response.body.Data.JobId === 'string';
  check(ok, description, `HTTP ${response.status}, body ${response.text}`);
}

async function sdkCreate(address, v1, firmwareId, device, description) {
  try {
    const response = await client(address, v1).createOTAVerifyJob(
      verifyJobRequest(firmwareId, device));
    const body = response.body || {};
    const jobId = body.data && body.data.jobId;
    check(response.statusCode === 200 && body.success === true && !!jobId,
      `${description}: success, JobId ${jobId}`, JSON.stringify(body));
  } catch (e) {
    check(false, description, `${e.code || ''} ${e.message}`);
  }
}

async function rejections(address, capture, v1, firmwareId, device) {
  const label = v1 ? 'V1' : 'V3';
  const signed = await captureSigned(capture, address, v1, firmwareId, device);
  expectRejected(await replay(address, withFlippedSignature(signed, v1)), 'SignatureDoesNotMatch',
    `${label}: SDK-signed request with one signature character flipped -> SignatureDoesNotMatch`);
  expectAccepted(await replay(address, clone(signed)),
    `${label}: the same SDK-signed request untouched -> success`);
  expectRejected(await replay(address, clone(signed)), 'SignatureNonceUsed',
    `${label}: the same SDK-signed request replayed -> SignatureNonceUsed`);

  // The SDK stamps requests with OpenApiUtil.getTimestamp(); pretend it is 20 minutes earlier.
  const realTimestamp = OpenApiUtil.getTimestamp;
  OpenApiUtil.getTimestamp = () =>
    new Date(Date.now() - 20 * 60 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  let stale;
  try {
    stale = await captureSigned(capture, address, v1, firmwareId, device);
  } finally {
    OpenApiUtil.getTimestamp = realTimestamp;
  }
  expectRejected(await replay(address, stale), 'InvalidTimeStamp.Expired',
    `${label}: SDK-signed request stamped 20 minutes ago -> InvalidTimeStamp.Expired`);
}

const OVERALL_TIMEOUT_MS = 45000;

async function main() {
  const binary = process.argv[2];
  if (!binary) throw new Error('usage: node sdk_client_emulator_check.js EMULATOR_BINARY');
  const emulator = startEmulator(binary);
  // However this process ends (a crash, ctest's timeout signal, the watchdog), the emulator ends.
  process.on('exit', () => {
    if (emulator.child.exitCode === null && emulator.child.signalCode === null) {
      emulator.child.kill('SIGKILL');
    }
  });
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => { console.error(`FAIL stopped by ${signal}`); process.exit(1); });
  }
  setTimeout(() => {
    console.error(`FAIL not finished after ${OVERALL_TIMEOUT_MS} ms`);
    process.exit(1);
  }, OVERALL_TIMEOUT_MS).unref();
  let capture = null;
  try {
    const address = await emulator.address;
    console.log(`emulator listening on ${address}`);
    capture = await startCaptureServer();

    await sdkCreate(address, false, 'demo-firmware-1', 'demo-device-1',
      'V3 (SDK default ACS3-HMAC-SHA256) createOTAVerifyJob demo-firmware-1');
    await sdkCreate(address, true, 'demo-firmware-2', 'demo-device-1',
      "V1 (signatureAlgorithm 'v2', HMAC-SHA1) createOTAVerifyJob demo-firmware-2");
    await rejections(address, capture, false, 'demo-firmware-3', 'demo-device-3');
    await rejections(address, capture, true, 'demo-firmware-4', 'demo-device-4');

    // The emulator's own count must agree with what we saw.
    const stats = await replay(address, { method: 'GET', path: '/_emulator/stats',
      headers: {}, body: Buffer.alloc(0) });
    const outcomes = (stats.body && stats.body.requests_by_outcome) || {};
    const expected = { success: 4, SignatureDoesNotMatch: 2, SignatureNonceUsed: 2,
      'InvalidTimeStamp.Expired': 2 };
    check(JSON.stringify(Object.keys(outcomes).sort().map((k) => [k, outcomes[k]])) ===
      JSON.stringify(Object.keys(expected).sort().map((k) => [k, expected[k]])),
    `emulator stats count exactly ${JSON.stringify(expected)}`, stats.text);
  } finally {
    if (capture) capture.server.close();
    await stopEmulator(emulator.child);
  }
}

main().then(() => {
  const failed = checks.filter(([ok]) => !ok).length;
  console.log(`${checks.length - failed}/${checks.length} checks passed`);
  process.exit(failed === 0 && checks.length > 0 ? 0 : 1);
}, (e) => {
  console.error(`FAIL ${e.stack || e}`);
  process.exit(1);
});
