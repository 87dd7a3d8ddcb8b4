#!/usr/bin/env node
// Generates signing test cases and has the official Alibaba Cloud SDK (@alicloud/openapi-util,
// the signer @alicloud/openapi-client uses) sign each one. Writes JSON lines that
// sdk_signature_interop_test.cc replays through our SignRpcCall, stage by stage.
//
// Every stage comes from the SDK itself: its helpers are wrapped at run time (never copied):
//   V1: kitx.sha1(stringToSign, secret + '&', 'base64') inside getRPCSignature gives the string
//       to sign and the signature; the canonical query is the SDK's string to sign, unwrapped.
//   V3: Client.hash(Buffer(canonicalRequest)) and Client.signatureMethod(secret, stringToSign)
//       inside getAuthorization give the canonical request, string to sign and signature.
//
// Inputs mirror exactly what SignRpcCall signs (protocol.md §4, §5): V1 signs Action, Version,
// Format=JSON, AccessKeyId, SignatureMethod, SignatureVersion, SignatureNonce, Timestamp,
// SecurityToken (with a token) and the business parameters; V3 signs host, x-acs-action,
// x-acs-version, x-acs-date, x-acs-signature-nonce, x-acs-content-sha256 (empty body) and
// x-acs-security-token (with a token), with the business parameters in the query.
//
// Deterministic: case i of a seed depends only on (seed, i). The fixed seed gives the same
// cases every run; the fresh seed (from the clock, or OTAVERIFY_INTEROP_FRESH_SEED) is printed
// and stored in every case so any failure can be reproduced.
//
// Usage: node sdk_signature_cases.js --out FILE [--fixed-seed N] [--fixed-count N]
//                                    [--fresh-count N] [--fresh-seed N]
'use strict';

const fs = require('fs');
const path = require('path');

const OpenApiUtil = require('@alicloud/openapi-util').default;
// The kitx instance openapi-util itself loaded, whatever the node_modules layout.
const kitx = require(require.resolve('kitx', {
  paths: [path.dirname(require.resolve('@alicloud/openapi-util'))],
}));

function die(message) {
  process.stderr.write(`sdk_signature_cases: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { fixedSeed: 20240520, fixedCount: 2400, freshCount: 50, freshSeed: null, out: null };
  for (let i = 2; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (value === undefined) die(`missing value for ${argv[i]}`);
    switch (argv[i]) {
      case '--out': args.out = value; break;
      case '--fixed-seed': args.fixedSeed = Number(value) >>> 0; break;
      case '--fixed-count': args.fixedCount = Number(value); break;
      case '--fresh-count': args.freshCount = Number(value); break;
      case '--fresh-seed': args.freshSeed = Number(value) >>> 0; break;
      default: die(`unknown flag ${argv[i]}`);
    }
  }
  if (!args.out) die('--out FILE is required');
  if (args.freshSeed === null && process.env.OTAVERIFY_INTEROP_FRESH_SEED) {
    args.freshSeed = Number(process.env.OTAVERIFY_INTEROP_FRESH_SEED) >>> 0;
  }
  if (args.freshSeed === null) args.freshSeed = (Date.now() ^ (process.pid << 16)) >>> 0;
  return args;
}

// mulberry32, seeded from (seed, index) so each case stands alone.
function makeRng(seed, index) {
  let state = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < 4; i++) next();
  const rng = {
    float: next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),  // inclusive
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)],
    shuffle: (list) => {  // Fisher-Yates, in place
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [list[i], list[j]] = [list[j], list[i]];
      }
      return list;
    },
    chars: (alphabet, n) => {
      let out = '';
      for (let i = 0; i < n; i++) out += alphabet[Math.floor(next() * alphabet.length)];
      return out;
    },
  };
  return rng;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';
const BASE64 = ALNUM + '+/';
// Every printable ASCII character RFC 3986 does not leave literal (space included).
const RESERVED = ' !"#$%&\'()*+,/:;<=>?@[\\]^`{|}';
const PRINTABLE = (() => {
  let s = '';
  for (let c = 0x20; c < 0x7f; c++) s += String.fromCharCode(c);
  return s;
})();
const CONTROL = (() => {
  let s = '';
  for (let c = 0x01; c < 0x20; c++) s += String.fromCharCode(c);
  return s + '\x7f';
})();
// Whole code points (astral ones are surrogate pairs in JS), never a lone surrogate: the SDK's
// encodeURIComponent throws on those and UTF-8 cannot carry them.
const UNICODE_SAMPLES = [
  '设备', '固件升级', '杭州', '日本語', '한국어', 'Ωμέγα', 'Привет', 'مرحبا', 'שלום', 'ñandú',
  'e\u0301', 'a\u0308\u0304', 'Z\u0351\u036b\u0343', '\u00a0', '\u00ff', '\u2028', '\ufeff',
  '\ufffd', '\u200d', '😀', '👍🏽', '👩‍💻', '🇨🇳', '𝄞', '\u{10000}', '\u{10ffff}', '€', '™',
];
const TRICKY_STRINGS = [
  '%', '%25', '%2A', '%zz', '%%', '+', '++', ' ', '  lead and trail  ', 'a+b=c&d', '=', '&',
  'a&b=c', '*', '~', '~*~', '%7E', '/', '\\', '?x=1', '#frag', '"quoted"', "it's", '<tag>',
  '{json:"v"}', '[1,2]', 'null', 'true', '0', '-1', '.', '..', '_', '-', 'TargetDeviceName.1',
  '\t', '\n', '\r\n',
];
const LOWER_HOSTS = [
  'iot.cn-shanghai.aliyuncs.com', 'iot.ap-southeast-1.aliyuncs.com', 'iot.us-west-1.aliyuncs.com',
  'iot.eu-central-1.aliyuncs.com', 'iot-vpc.cn-beijing.aliyuncs.com', '127.0.0.1:18080',
  '127.0.0.1:41234', 'localhost:8080',
];
const ACTIONS = [
  'CreateOTAVerifyJob', 'QueryOTAFirmware', 'QueryOTAJob', 'ListOTAJobByFirmware',
  'ListOTATaskByJob', 'CancelOTATaskByJob',
];

function unicodeValue(rng, n) {
  let out = '';
  for (let i = 0; i < n; i++) out += rng.pick(UNICODE_SAMPLES);
  return out;
}

function mixedValue(rng, codePoints) {
  // A blend of every class, `codePoints` pieces long.
  let out = '';
  for (let i = 0; i < codePoints; i++) {
    const r = rng.float();
    if (r < 0.5) out += rng.chars(PRINTABLE, 1);
    else if (r < 0.75) out += rng.chars(RESERVED, 1);
    else if (r < 0.95) out += rng.pick(UNICODE_SAMPLES);
    else out += rng.chars(CONTROL, 1);
  }
  return out;
}

// A value from one of the hard classes.
function hardValue(rng) {
  const r = rng.int(0, 9);
  switch (r) {
    case 0: return rng.chars(PRINTABLE, rng.int(1, 40));
    case 1: return rng.chars(RESERVED, rng.int(1, 20));
    case 2: return rng.shuffle([...RESERVED]).join('');  // all of them, in some order
    case 3: return unicodeValue(rng, rng.int(1, 8));
    case 4: return mixedValue(rng, rng.int(1, 60));
    case 5: return rng.chance(0.5) ? rng.chars(PRINTABLE, 1024) : mixedValue(rng, 1024);
    case 6: return rng.pick(TRICKY_STRINGS);
    case 7: return rng.chars(CONTROL + 'ab', rng.int(1, 6));
    case 8: return rng.chars(ALNUM, rng.int(1, 32)) + rng.pick(TRICKY_STRINGS);
    default: return rng.chance(0.1) ? '' : rng.pick(UNICODE_SAMPLES) + rng.chars(RESERVED, 2);
  }
}

// Realistic value most of the time, a hard one with probability `p`.
function value(rng, realistic, p) {
  return rng.chance(p) ? hardValue(rng) : realistic();
}

function businessParams(rng) {
  const shape = rng.float();
  const params = [];
  const p = rng.pick([0.1, 0.3, 0.6, 1.0]);
  if (shape < 0.08) return params;  // an action with no business parameters
  if (shape < 0.7) {
    // CreateOTAVerifyJob as the gateway sends it (protocol.md §6), 1..11 devices, 0..10 tags.
    params.push(['FirmwareId', value(rng, () => rng.chars(ALNUM, 24), p)]);
    params.push(['ProductKey', value(rng, () => 'a1' + rng.chars(ALNUM, 9), p)]);
    const devices = rng.int(1, 11);
    for (let i = 1; i <= devices; i++) {
      params.push([`TargetDeviceName.${i}`,
        value(rng, () => rng.chars(ALNUM + '-_.@:', rng.int(4, 32)), p)]);
    }
    const tags = rng.int(0, 10);
    for (let i = 1; i <= tags; i++) {
      params.push([`Tag.${i}.Key`, value(rng, () => rng.chars(ALNUM + '.', rng.int(1, 30)), p)]);
      params.push([`Tag.${i}.Value`, value(rng, () => mixedValue(rng, rng.int(1, 64)), p)]);
    }
    if (rng.chance(0.5)) params.push(['IotInstanceId', value(rng, () => 'iot-' + rng.chars(HEX, 8), p)]);
    if (rng.chance(0.5)) params.push(['TimeoutInMinutes', String(rng.int(1, 1440))]);
    if (rng.chance(0.5)) params.push(['NeedPush', rng.pick(['true', 'false'])]);
    if (rng.chance(0.5)) params.push(['NeedConfirm', rng.pick(['true', 'false'])]);
    if (rng.chance(0.5)) params.push(['DownloadProtocol', rng.pick(['HTTPS', 'MQTT'])]);
    return params;
  }
  // Neighbour APIs' names (protocol.md §7), every value hard.
  const names = ['FirmwareId', 'JobId', 'ProductKey', 'IotInstanceId', 'TaskStatus', 'CurrentPage',
    'PageSize', 'CancelQueuedTask', 'CancelInProgressTask', 'CancelNotifiedTask'];
  for (const name of names) if (rng.chance(0.4)) params.push([name, hardValue(rng)]);
  const listed = rng.int(0, 11);
  for (let i = 1; i <= listed; i++) params.push([`DeviceNames.${i}`, hardValue(rng)]);
  return params;
}

function secret(rng) {
  const r = rng.float();
  if (r < 0.2) return rng.chars(ALNUM, 30);
  if (r < 0.8) return rng.chars(ALNUM + '&+/=*~', 30);
  return rng.chars('&+/=*~', rng.int(1, 12));
}

function token(rng) {
  // STS tokens are long base64 with '/', '+' and '=' padding.
  const body = rng.chars(BASE64, rng.int(100, 1200));
  return 'CAIS' + body + '='.repeat(rng.int(0, 2));
}

function nonce(rng) {
  const r = rng.float();
  if (r < 0.7) {
    const h = (n) => rng.chars(HEX, n);
    return `${h(8)}-${h(4)}-4${h(3)}-${rng.pick(['8', '9', 'a', 'b'])}${h(3)}-${h(12)}`;
  }
  if (r < 0.9) return rng.chars(HEX.toUpperCase(), 32);
  return rng.chars(ALNUM, rng.int(8, 64));
}

// 2000-01-01 .. 2099-12-31, formatted as both signatures want it.
function timestamp(rng) {
  const epochSeconds = rng.int(946684800, 4102444799);
  const text = new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { epochSeconds, text };
}

// Mode: signature version and wire method, and whether STS credentials are used.
const MODES = [
  { version: 'v1', method: 'GET' },
  { version: 'v1', method: 'POST' },
  { version: 'v3', method: 'POST' },
  { version: 'v3', method: 'GET' },
];

function randomCase(set, seed, index) {
  const rng = makeRng(seed, index);
  // Rotate over modes and token use so every kind is represented, even among 50 fresh cases.
  const mode = MODES[index % MODES.length];
  const withToken = Math.floor(index / MODES.length) % 2 === 1;
  const ts = timestamp(rng);
  return {
    id: `${set}:${seed}:${index}`,
    set, seed, index,
    signature_version: mode.version,
    method: mode.method,
    host: rng.pick(LOWER_HOSTS),
    action: rng.pick(ACTIONS),
    api_version: '2018-01-20',
    access_key_id: withToken ? 'STS.' + rng.chars(ALNUM, 24) : 'LTAI' + rng.chars(ALNUM, 20),
    access_key_secret: secret(rng),
    security_token: withToken ? token(rng) : '',
    nonce: nonce(rng),
    timestamp: ts.text,
    epoch_seconds: ts.epochSeconds,
    params: businessParams(rng),
  };
}

// Deterministic coverage, independent of the PRNG: every ASCII character 0x01..0x7F, each
// Unicode sample and tricky string, and each special secret character, under every mode
// (token use alternates with the index).
function coverageCases(seed) {
  const values = [];
  for (let c = 0x01; c < 0x80; c++) values.push(String.fromCharCode(c));
  values.push(...UNICODE_SAMPLES, ...TRICKY_STRINGS, RESERVED, PRINTABLE, CONTROL);
  const cases = [];
  let index = 0;
  for (const v of values) {
    for (let m = 0; m < MODES.length; m++) {
      const base = randomCase('coverage', seed, index);
      base.signature_version = MODES[m].version;
      base.method = MODES[m].method;
      base.params = [['FirmwareId', `fw${v}end`], ['Tag.1.Key', 'k'], ['Tag.1.Value', v],
        ['TargetDeviceName.1', v + v]];
      cases.push(base);
      index++;
    }
  }
  for (const ch of '&+/=*~') {
    for (let m = 0; m < MODES.length; m++) {
      const base = randomCase('coverage', seed, index);
      base.signature_version = MODES[m].version;
      base.method = MODES[m].method;
      base.access_key_secret = `${ch}secret${ch}`;
      cases.push(base);
      index++;
    }
  }
  return cases;
}

// Runs `fn` with `obj[name]` wrapped so each call's arguments and result are recorded.
function withSpy(obj, name, fn) {
  const original = obj[name];
  const calls = [];
  obj[name] = function spy(...args) {
    const result = original.apply(this, args);
    calls.push({ args, result });
    return result;
  };
  try {
    return { value: fn(), calls };
  } finally {
    obj[name] = original;
  }
}

const ALGORITHM = 'ACS3-HMAC-SHA256';
const EMPTY_BODY_SHA256 = OpenApiUtil.hexEncode(OpenApiUtil.hash(Buffer.from(''), ALGORITHM));

function sdkSignV1(c) {
  const signed = {
    Action: c.action, Version: c.api_version, Format: 'JSON', AccessKeyId: c.access_key_id,
    SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0', SignatureNonce: c.nonce,
    Timestamp: c.timestamp,
  };
  if (c.security_token) signed.SecurityToken = c.security_token;
  for (const [name, v] of c.params) signed[name] = v;
  const { value: signature, calls } = withSpy(kitx, 'sha1',
    () => OpenApiUtil.getRPCSignature(signed, c.method, c.access_key_secret));
  if (calls.length !== 1) die(`${c.id}: expected one kitx.sha1 call, saw ${calls.length}`);
  const [stringToSign, key] = calls[0].args;
  if (calls[0].result !== signature) die(`${c.id}: kitx.sha1 result is not the signature`);
  if (key !== c.access_key_secret + '&') die(`${c.id}: unexpected HMAC key shape`);
  // The SDK's string to sign is METHOD&%2F&encode(canonical); its canonical is the third part.
  const prefix = `${c.method}&%2F&`;
  if (!stringToSign.startsWith(prefix)) die(`${c.id}: unexpected string to sign ${stringToSign}`);
  const canonical = decodeURIComponent(stringToSign.slice(prefix.length));
  return { canonical, string_to_sign: stringToSign, signature, authorization: '' };
}

function sdkSignV3(c) {
  const headers = {
    host: c.host, 'x-acs-action': c.action, 'x-acs-version': c.api_version,
    'x-acs-date': c.timestamp, 'x-acs-signature-nonce': c.nonce,
    'x-acs-content-sha256': EMPTY_BODY_SHA256,
    // Sent by the SDK but not signed: their presence must change nothing.
    accept: 'application/json', 'user-agent': 'AlibabaCloud (interop) TeaDSL/1',
  };
  if (c.security_token) headers['x-acs-security-token'] = c.security_token;
  const query = {};
  for (const [name, v] of c.params) query[name] = v;
  const request = { pathname: '/', method: c.method, query, headers };
  let hashCalls;
  const { value: authorization, calls: signCalls } = withSpy(OpenApiUtil, 'signatureMethod', () => {
    const spied = withSpy(OpenApiUtil, 'hash', () => OpenApiUtil.getAuthorization(
      request, ALGORITHM, EMPTY_BODY_SHA256, c.access_key_id, c.access_key_secret));
    hashCalls = spied.calls;
    return spied.value;
  });
  if (hashCalls.length !== 1 || signCalls.length !== 1) {
    die(`${c.id}: expected one hash and one signatureMethod call, saw ${hashCalls.length}, ${signCalls.length}`);
  }
  const canonical = Buffer.from(hashCalls[0].args[0]).toString('utf8');
  const stringToSign = signCalls[0].args[1];
  const signature = OpenApiUtil.hexEncode(signCalls[0].result);
  if (!authorization.endsWith(`,Signature=${signature}`)) die(`${c.id}: Authorization ${authorization}`);
  return { canonical, string_to_sign: stringToSign, signature, authorization };
}

function main() {
  const args = parseArgs(process.argv);
  fs.rmSync(args.out, { force: true });  // never leave a previous run's file behind
  const started = Date.now();
  const cases = [...coverageCases(args.fixedSeed)];
  for (let i = 0; i < args.fixedCount; i++) cases.push(randomCase('fixed', args.fixedSeed, i));
  for (let i = 0; i < args.freshCount; i++) cases.push(randomCase('fresh', args.freshSeed, i));

  const counts = {};
  const lines = [];
  for (const c of cases) {
    c.sdk = c.signature_version === 'v1' ? sdkSignV1(c) : sdkSignV3(c);
    const kind = `${c.signature_version} ${c.method} ${c.security_token ? 'sts' : 'ak'} ${c.set}`;
    counts[kind] = (counts[kind] || 0) + 1;
    lines.push(JSON.stringify(Object.assign({ kind: 'case' }, c)));
  }
  const versions = {};
  for (const pkg of ['@alicloud/openapi-util', '@alicloud/openapi-client', 'kitx']) {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`, {
      paths: [path.dirname(require.resolve('@alicloud/openapi-util'))],
    }));
    versions[pkg] = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  }
  const header = {
    kind: 'header', fixed_seed: args.fixedSeed, fresh_seed: args.freshSeed,
    case_count: cases.length, sdk_versions: versions,
  };
  // Written whole, then renamed: a crashed run leaves no file, never a truncated one.
  const tmp = `${args.out}.tmp`;
  fs.writeFileSync(tmp, [JSON.stringify(header), ...lines].join('\n') + '\n');
  fs.renameSync(tmp, args.out);

  console.log(`official SDK signed ${cases.length} cases in ${Date.now() - started} ms ` +
    `(${Object.entries(versions).map(([k, v]) => `${k}@${v}`).join(', ')})`);
  console.log(`fixed seed ${args.fixedSeed}, fresh seed ${args.freshSeed} ` +
    `(reproduce: OTAVERIFY_INTEROP_FRESH_SEED=${args.freshSeed} ctest -L interop)`);
  for (const kind of Object.keys(counts).sort()) console.log(`  ${kind}: ${counts[kind]}`);
  console.log(`wrote ${args.out}`);
}

main();
