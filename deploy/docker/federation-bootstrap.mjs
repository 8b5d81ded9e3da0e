// compose.yaml's one-shot `bootstrap` service: registers the hospital nodes of a one-host
// federation with the aggregator and issues the inference API's read-only reader token, then
// writes each token where only its own service mounts it (TOKENS_DIR/<name>/token, mounted
// into that container alone with a volume subpath). Idempotent: a token file already there is
// kept; a name the aggregator knows but whose token file is gone gets a new token
// (POST /hospitals/{id}/token, POST /readers/{id}/token), since tokens are shown only once.
//
// Environment (all read here, none by a service):
//   AGGREGATOR_URL    the aggregator, e.g. http://aggregator:3000
//   ADMIN_TOKEN_FILE  the aggregator's admin token (its first line neither blank nor # comment)
//   HOSPITALS         name=baseUrl,...   e.g. hospital-1=http://hospital-1:3101
//   READER_NAME       the inference API's reader name (default inference-api)
//   TOKENS_DIR        where the token folders are written (default /var/lib/fedxray)
/* global fetch, AbortSignal, setTimeout */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MIN_TOKEN_LENGTH = 16;

function fail(message) {
  console.error(`bootstrap: ${message}`);
  process.exit(1);
}

function required(name) {
  const value = process.env[name]?.trim();
  if (!value) fail(`${name} is required`);
  return value;
}

const aggregatorUrl = required('AGGREGATOR_URL').replace(/\/+$/, '');
const adminTokenFile = required('ADMIN_TOKEN_FILE');
const readerName = process.env.READER_NAME?.trim() || 'inference-api';
const tokensDir = process.env.TOKENS_DIR?.trim() || '/var/lib/fedxray';
const hospitals = required('HOSPITALS')
  .split(',')
  .map((entry) => entry.trim())
  .filter((entry) => entry !== '')
  .map((entry) => {
    const at = entry.indexOf('=');
    if (at <= 0) fail(`HOSPITALS: "${entry}" is not name=baseUrl`);
    return { name: entry.slice(0, at).trim(), baseUrl: entry.slice(at + 1).trim() };
  });

function firstLine(text) {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .find((line) => line !== '' && !line.startsWith('#'));
}

const adminToken = firstLine(readFileSync(adminTokenFile, 'utf8'));
if (!adminToken || adminToken.length < MIN_TOKEN_LENGTH)
  fail(`ADMIN_TOKEN_FILE ${adminTokenFile} holds no token of ${MIN_TOKEN_LENGTH}+ characters`);

async function call(method, path, body) {
  const res = await fetch(`${aggregatorUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'error',
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

async function waitForAggregator() {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${aggregatorUrl}/health`, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (attempt === 60) fail(`the aggregator at ${aggregatorUrl} did not answer /health`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function tokenFile(name) {
  return join(tokensDir, name, 'token');
}

function hasToken(name) {
  const file = tokenFile(name);
  if (!existsSync(file)) return false;
  const token = firstLine(readFileSync(file, 'utf8'));
  return token !== undefined && token.length >= MIN_TOKEN_LENGTH;
}

function writeToken(name, token) {
  const dir = join(tokensDir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.token.${process.pid}.tmp`);
  writeFileSync(temp, `${token}\n`, { mode: 0o400 });
  renameSync(temp, tokenFile(name));
}

function check(answer, status, what) {
  if (answer.status !== status) {
    const reason = answer.json?.error?.message ?? '';
    fail(`${what} answered ${answer.status}${reason ? `: ${reason}` : ''}`);
  }
  return answer.json;
}

async function registerHospital({ name, baseUrl }) {
  if (hasToken(name)) return console.log(`bootstrap: ${name}: token already written, kept`);
  const created = await call('POST', '/hospitals', { name, baseUrl });
  if (created.status === 201) {
    writeToken(name, created.json.token);
    return console.log(`bootstrap: ${name}: registered at ${baseUrl}, token written`);
  }
  if (created.status !== 409) check(created, 201, `POST /hospitals (${name})`);
  const list = check(await call('GET', '/hospitals'), 200, 'GET /hospitals');
  const known = list.hospitals.find((hospital) => hospital.name === name);
  if (!known) fail(`POST /hospitals answered 409 for ${name}, but GET /hospitals lacks it`);
  const rotated = check(
    await call('POST', `/hospitals/${known.id}/token`, {}),
    200,
    `POST /hospitals/${known.id}/token (${name})`,
  );
  writeToken(name, rotated.token);
  console.log(`bootstrap: ${name}: already registered, its token file was missing: new token`);
}

async function issueReader(name) {
  if (hasToken(name)) return console.log(`bootstrap: reader ${name}: token already written`);
  const created = await call('POST', '/readers', { name });
  if (created.status === 201) {
    writeToken(name, created.json.token);
    return console.log(`bootstrap: reader ${name}: issued, token written`);
  }
  if (created.status !== 409) check(created, 201, `POST /readers (${name})`);
  const list = check(await call('GET', '/readers'), 200, 'GET /readers');
  const known = list.readers.find((reader) => reader.name === name && !reader.revokedAt);
  if (!known) fail(`reader ${name} exists but is revoked: set READER_NAME to a new name`);
  const rotated = check(
    await call('POST', `/readers/${known.id}/token`, {}),
    200,
    `POST /readers/${known.id}/token (${name})`,
  );
  writeToken(name, rotated.token);
  console.log(`bootstrap: reader ${name}: its token file was missing: new token`);
}

await waitForAggregator();
for (const hospital of hospitals) await registerHospital(hospital);
await issueReader(readerName);
