// One service per process (`wattos serve --service NAME`): a lone RAG service and a lone
// chat service serve only their own routes (plus /healthz, /readyz, /metrics); a lone
// gateway serves sign-in and administration and forwards the rest to services.*_url,
// answering 404 for a service with no URL. The lone services trust the identity the
// gateway signs (X-WattOS-Identity), and no other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWattos, stopWattos, call } from './wattos.mjs';

const binary = process.env.WATTOS_TEST_BINARY;
if (!binary) throw new Error('WATTOS_TEST_BINARY must name the wattos executable');
const secret = 'lone-service-test-identity-secret-0123456789';

let dir, rag, chat, gateway, token, spaceId;
const at = (server) => `http://127.0.0.1:${server.port}`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wattos-lone-'));
  rag = await startWattos({ binary, dir, service: 'rag', env: { WATTOS_GATEWAY_IDENTITY_SECRET: secret } });
  chat = await startWattos({ binary, dir, service: 'chat', env: { WATTOS_GATEWAY_IDENTITY_SECRET: secret } });
  gateway = await startWattos({
    binary, dir, service: 'gateway',
    env: { WATTOS_GATEWAY_IDENTITY_SECRET: secret,
           WATTOS_SERVICES_RAG_URL: at(rag), WATTOS_SERVICES_CHAT_URL: at(chat) },
  });
  const login = await call(at(gateway), 'POST', '/api/v1/auth/login',
    { email: 'admin@localhost', password: rag.password });
  assert.equal(login.status, 200, JSON.stringify(login.json));
  token = login.json.access_token;
});

after(async () => {
  await stopWattos(gateway);
  await stopWattos(chat);
  await stopWattos(rag);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// A 404 from the router: the route is not registered in that process.
async function assertNotServed(base, method, path, body) {
  const r = await call(base, method, path, body, token);
  assert.equal(r.status, 404, `${method} ${path} -> ${r.status} ${JSON.stringify(r.json)}`);
  assert.ok(r.json.error.code && r.json.error.message, JSON.stringify(r.json));
}

test('a lone RAG service serves knowledge spaces and nothing of the other services', async () => {
  const base = at(rag);
  const created = await call(base, 'POST', '/api/v1/spaces', { name: 'Allein' }, token);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  spaceId = created.json.id;
  const listed = await call(base, 'GET', '/api/v1/spaces', null, token);
  assert.equal(listed.status, 200);
  assert.ok(listed.json.items.some((s) => s.id === spaceId));

  await assertNotServed(base, 'GET', '/api/v1/conversations');
  await assertNotServed(base, 'POST', '/api/v1/conversations', { title: 'x' });
  await assertNotServed(base, 'POST', '/v1/chat/completions', { model: 'extractive', messages: [] });
  await assertNotServed(base, 'GET', '/api/v1/personas');
  await assertNotServed(base, 'GET', `/api/v1/spaces/${spaceId}/files`);  // ingestion's
  await assertNotServed(base, 'POST', '/api/v1/auth/login', { email: 'admin@localhost', password: 'x' });
  await assertNotServed(base, 'GET', '/api/v1/admin/users');
});

test('a lone service answers the operational endpoints', async () => {
  const base = at(rag);
  assert.deepEqual((await call(base, 'GET', '/healthz')).json, { status: 'ok' });
  assert.equal((await call(base, 'GET', '/readyz')).status, 200);
  const version = await call(base, 'GET', '/api/v1/version');
  assert.equal(version.status, 200);
  assert.deepEqual(version.json.services, ['rag']);
  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /wattos_http_requests_total/);
});

test('a lone chat service serves conversations, not knowledge spaces', async () => {
  const base = at(chat);
  const created = await call(base, 'POST', '/api/v1/conversations', { title: 'Direkt' }, token);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  await assertNotServed(base, 'GET', '/api/v1/spaces');
  await assertNotServed(base, 'GET', '/v1/models');
});

test('a lone gateway serves sign-in and administration and forwards the rest', async () => {
  const base = at(gateway);
  assert.equal((await call(base, 'GET', '/api/v1/auth/me', null, token)).status, 200);
  assert.equal((await call(base, 'GET', '/api/v1/admin/users', null, token)).status, 200);
  // Forwarded to the RAG and chat processes with the signed identity.
  const spaces = await call(base, 'GET', '/api/v1/spaces', null, token);
  assert.equal(spaces.status, 200, JSON.stringify(spaces.json));
  assert.ok(spaces.json.items.some((s) => s.id === spaceId));
  const created = await call(base, 'POST', '/api/v1/conversations', { title: 'Weitergeleitet' }, token);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  assert.equal((await call(base, 'GET', '/api/v1/version')).json.services[0], 'gateway');
  // Services without a URL are not served by the gateway itself.
  await assertNotServed(base, 'GET', '/v1/models');
  await assertNotServed(base, 'GET', '/api/v1/personas');
  await assertNotServed(base, 'GET', `/api/v1/spaces/${spaceId}/files`);
});

function signedIdentity(me, key) {
  const claims = { kind: 'user', sub: me.id, email: me.email, sid: '', key: '', roles: me.roles.join(' '),
                   perms: me.permissions.join(' '), rid: 'lone-test', iat: Math.floor(Date.now() / 1000) };
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
}

test('a lone service trusts the identity signed with the shared secret, nothing else', async () => {
  const base = at(rag);
  const me = (await call(at(gateway), 'GET', '/api/v1/auth/me', null, token)).json;
  assert.equal((await call(base, 'GET', '/api/v1/spaces')).status, 401);
  const signed = await fetch(`${base}/api/v1/spaces`, { headers: { 'X-WattOS-Identity': signedIdentity(me, secret) } });
  assert.equal(signed.status, 200);
  const wrongKey = await fetch(`${base}/api/v1/spaces`, {
    headers: { 'X-WattOS-Identity': signedIdentity(me, 'another-secret-of-at-least-32-characters') },
  });
  assert.equal(wrongKey.status, 401);
  assert.equal((await wrongKey.json()).error.code, 'unauthenticated');
});
