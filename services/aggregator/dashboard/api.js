// The aggregator's and the inference API's HTTP calls. The admin token lives in this module's
// memory only (never localStorage or a cookie): a reload forgets it.

let adminToken = '';

export function setAdminToken(token) {
  adminToken = token.trim();
}

export function hasAdminToken() {
  return adminToken !== '';
}

/** An answer that was not 2xx, with the service's error code and message when it sent one. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = body && body.error;
    super(error ? `${status} ${error.code}: ${error.message}` : `HTTP ${status}`);
    this.status = status;
    this.code = error ? error.code : null;
  }
}

async function answer(res) {
  const text = await res.text();
  const body = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

/** A JSON call to the aggregator (same origin); `admin` adds the admin token. */
export async function aggregator(path, { method = 'GET', body, admin = false } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (admin) {
    if (!adminToken) throw new Error('enter the admin token first (top right)');
    headers.authorization = `Bearer ${adminToken}`;
  }
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answer(res);
}

/** POST /diagnose?explain=true on the inference API, with an optional API key. */
export async function diagnose(baseUrl, file, apiKey) {
  const form = new FormData();
  form.append('image', file, file.name);
  const headers = {};
  if (apiKey) headers['x-api-key'] = apiKey;
  const url = `${baseUrl.replace(/\/+$/, '')}/diagnose?explain=true`;
  const res = await fetch(url, { method: 'POST', body: form, headers });
  return answer(res);
}
