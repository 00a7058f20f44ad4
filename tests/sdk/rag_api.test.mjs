// The knowledge-space API over HTTP against a real `wattos serve`: an editor builds a
// space, a member cannot see it until invited, a reader cannot write, a search returns
// cited passages and a context, and the offline `extractive` model answers from that
// context with the citation marker: the RAG path end to end, offline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWattos, stopWattos, call } from './wattos.mjs';

const binary = process.env.WATTOS_TEST_BINARY;
if (!binary) throw new Error('WATTOS_TEST_BINARY must name the wattos executable');

let dir, server, base, editor, member, memberId, spaceId;

async function login(email, password) {
  const r = await call(base, 'POST', '/api/v1/auth/login', { email, password });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.access_token;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wattos-rag-'));
  server = await startWattos({ binary, dir });
  base = `http://127.0.0.1:${server.port}`;
  const admin = await login('admin@localhost', server.password);
  for (const [email, role] of [['editor@example.eu', 'editor'], ['member@example.eu', 'member']]) {
    const r = await call(base, 'POST', '/api/v1/admin/users',
      { email, display_name: role, password: 'a-long-enough-passphrase', roles: [role] }, admin);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    if (role === 'member') memberId = r.json.id;
  }
  editor = await login('editor@example.eu', 'a-long-enough-passphrase');
  member = await login('member@example.eu', 'a-long-enough-passphrase');
});

after(async () => {
  await stopWattos(server);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an editor creates a space and indexes a document', async () => {
  const created = await call(base, 'POST', '/api/v1/spaces', { name: 'Mietrecht', description: 'Verträge' }, editor);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  spaceId = created.json.id;
  assert.equal(created.json.access, 'owner');
  const indexed = await call(base, 'POST', `/api/v1/spaces/${spaceId}/documents`, {
    document_id: 'mv-1', title: 'Mietvertrag.pdf', doc_type: 'pdf', tags: ['miete'], date: '2024-03-01',
    chunks: [
      { text: 'Die Kündigungsfrist beträgt drei Monate zum Monatsende.', page: 3, heading_path: '§ 5 Kündigung', char_start: 0, char_end: 56 },
      { text: 'Haustiere sind nach Absprache mit dem Vermieter erlaubt.', page: 4, char_start: 57, char_end: 114 },
    ],
  }, editor);
  assert.equal(indexed.status, 200, JSON.stringify(indexed.json));
  assert.equal(indexed.json.chunks, 2);
  // A member may not create spaces (no spaces:write).
  assert.equal((await call(base, 'POST', '/api/v1/spaces', { name: 'X' }, member)).status, 403);
});

test('a member sees nothing until invited, then reads but cannot write', async () => {
  assert.equal((await call(base, 'GET', `/api/v1/spaces/${spaceId}`, null, member)).status, 404);
  assert.equal((await call(base, 'POST', `/api/v1/spaces/${spaceId}/search`, { query: 'Frist' }, member)).status, 404);
  assert.deepEqual((await call(base, 'GET', '/api/v1/spaces', null, member)).json.items, []);
  const invited = await call(base, 'PUT', `/api/v1/spaces/${spaceId}/members/${memberId}`, { role: 'read' }, editor);
  assert.equal(invited.status, 200, JSON.stringify(invited.json));
  const seen = await call(base, 'GET', `/api/v1/spaces/${spaceId}`, null, member);
  assert.equal(seen.status, 200);
  assert.equal(seen.json.access, 'read');
  // Indexing needs documents:write, which a member lacks; renaming needs write access.
  assert.equal((await call(base, 'POST', `/api/v1/spaces/${spaceId}/documents`, { document_id: 'x', chunks: [{ text: 'x' }] }, member)).status, 403);
  assert.equal((await call(base, 'DELETE', `/api/v1/spaces/${spaceId}`, null, member)).status, 403);
});

test('search answers cited passages and a context the extractive model answers from', async () => {
  const found = await call(base, 'POST', `/api/v1/spaces/${spaceId}/search`,
    { query: 'Wie lang ist die Kündigungsfrist?', k: 3, context_tokens: 400 }, member);
  assert.equal(found.status, 200, JSON.stringify(found.json));
  const top = found.json.hits[0];
  assert.equal(top.document_id, 'mv-1');
  assert.equal(top.page, 3);
  assert.equal(top.heading_path, '§ 5 Kündigung');
  assert.match(top.snippet, /\*\*Kündigungsfrist\*\*/);
  assert.equal(top.explanation.lexical_rank, 1);
  assert.match(found.json.context.text, /^\[1\] Mietvertrag\.pdf, Seite 3/);
  assert.equal(found.json.context.citations[0].number, 1);

  const answer = await call(base, 'POST', '/v1/chat/completions', {
    model: 'extractive',
    messages: [{ role: 'system', content: found.json.context.text },
               { role: 'user', content: 'Wie lang ist die Kündigungsfrist?' }],
  }, member);
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.match(answer.json.choices[0].message.content, /drei Monate.*\[1\]/);
});

test('a knowledge space is offered as a model that answers with citations', async () => {
  const models = await call(base, 'GET', '/v1/models', null, member);
  assert.ok(models.json.data.some((m) => m.id === 'rag:Mietrecht'), JSON.stringify(models.json.data.map((m) => m.id)));
  const answer = await call(base, 'POST', '/v1/chat/completions', {
    model: 'rag:Mietrecht', messages: [{ role: 'user', content: 'Sind Haustiere erlaubt?' }],
  }, member);
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.equal(answer.json.model, 'rag:Mietrecht');
  assert.match(answer.json.choices[0].message.content, /Haustiere.*\[1\]/);
  assert.equal(answer.json.citations[0].page, 4);
  assert.equal(answer.json.citations[0].document_id, 'mv-1');

  // Streamed: the first chunk carries the citations.
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${member}` },
    body: JSON.stringify({ model: 'rag:Mietrecht@extractive', stream: true,
                           messages: [{ role: 'user', content: 'Wie lang ist die Kündigungsfrist?' }] }),
  });
  assert.equal(res.status, 200);
  const chunks = (await res.text()).split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
  assert.equal(chunks[0].citations[0].page, 3);
  assert.match(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), /drei Monate.*\[1\]/);
  // A space the caller cannot read is not a model for them.
  const stranger = await call(base, 'POST', '/v1/chat/completions', {
    model: 'rag:Geheim', messages: [{ role: 'user', content: 'x' }] }, member);
  assert.equal(stranger.status, 404);
});

test('bad input gets 4xx JSON errors', async () => {
  const cases = [
    ['POST', `/api/v1/spaces/${spaceId}/search`, { query: '' }, 400],
    ['POST', `/api/v1/spaces/${spaceId}/search`, { query: 'x', k: 1000 }, 400],
    ['POST', `/api/v1/spaces/${spaceId}/search`, { query: 'x', mode: 'psychic' }, 400],
    ['POST', `/api/v1/spaces/${spaceId}/search`, { query: 'x'.repeat(5000) }, 413],
    ['POST', '/api/v1/spaces/no-such-space/search', { query: 'x' }, 404],
    ['POST', '/api/v1/spaces', { name: '' }, 400],
    ['POST', '/api/v1/spaces', { name: 'Mietrecht' }, 409],
    ['POST', `/api/v1/spaces/${spaceId}/documents`, { document_id: 'd', chunks: [{ text: 'x', char_start: 5, char_end: 1 }] }, 400],
  ];
  for (const [method, path, body, status] of cases) {
    const r = await call(base, method, path, body, editor);
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body).slice(0, 60)} -> ${JSON.stringify(r.json)}`);
    assert.ok(r.json.error.code && r.json.error.message);
  }
});
