// The chat API over HTTP against a real `wattos serve`: a streamed answer with typed
// SSE events and citations from a knowledge space, a reconnect with Last-Event-ID,
// history and search, feedback and its admin review, another user's conversation
// refused, and bad input answered with 4xx JSON.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWattos, stopWattos, call, makePng } from './wattos.mjs';

const binary = process.env.WATTOS_TEST_BINARY;
if (!binary) throw new Error('WATTOS_TEST_BINARY must name the wattos executable');

let dir, server, base, admin, editor, member, conversation, answerId;

async function login(email, password) {
  const r = await call(base, 'POST', '/api/v1/auth/login', { email, password });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.access_token;
}

// Reads an SSE response into [{id, event, data}].
async function events(res) {
  const text = await res.text();
  return text.split('\n\n').filter((b) => b.includes('data:')).map((block) => {
    const e = {};
    for (const line of block.split('\n')) {
      const at = line.indexOf(': ');
      if (at > 0) e[line.slice(0, at)] = line.slice(at + 2);
    }
    e.data = JSON.parse(e.data);
    return e;
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wattos-chat-'));
  server = await startWattos({ binary, dir });
  base = `http://127.0.0.1:${server.port}`;
  admin = await login('admin@localhost', server.password);
  for (const [email, role] of [['editor@example.eu', 'editor'], ['member@example.eu', 'member']]) {
    const r = await call(base, 'POST', '/api/v1/admin/users',
      { email, display_name: role, password: 'a-long-enough-passphrase', roles: [role] }, admin);
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }
  editor = await login('editor@example.eu', 'a-long-enough-passphrase');
  member = await login('member@example.eu', 'a-long-enough-passphrase');
  const space = await call(base, 'POST', '/api/v1/spaces', { name: 'Mietrecht' }, editor);
  await call(base, 'POST', `/api/v1/spaces/${space.json.id}/documents`, {
    document_id: 'mv-1', title: 'Mietvertrag.pdf',
    chunks: [{ text: 'Die Kündigungsfrist beträgt drei Monate zum Monatsende.', page: 3 },
             { text: 'Haustiere sind nach Absprache erlaubt.', page: 4 }],
  }, editor);
  const created = await call(base, 'POST', '/api/v1/conversations', { spaces: ['Mietrecht'] }, editor);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  conversation = created.json.id;
});

after(async () => {
  await stopWattos(server);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a message answers as typed SSE events with citations, and is stored', async () => {
  const res = await fetch(`${base}/api/v1/conversations/${conversation}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${editor}` },
    body: JSON.stringify({ content: 'Wie lang ist die Kündigungsfrist?' }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  answerId = res.headers.get('x-message-id');
  const all = await events(res);
  const kinds = all.map((e) => e.event).filter((k, i, a) => i === 0 || a[i - 1] !== k);
  assert.deepEqual(kinds, ['status', 'citation', 'status', 'token', 'done']);
  assert.deepEqual(all.map((e) => Number(e.id)), all.map((_, i) => i + 1));
  assert.equal(all.find((e) => e.event === 'citation').data.page, 3);
  assert.match(all.filter((e) => e.event === 'token').map((e) => e.data.text).join(''), /drei Monate.*\[1\]/);

  const stored = await call(base, 'GET', `/api/v1/conversations/${conversation}/messages`, null, editor);
  assert.equal(stored.json.items.length, 2);
  assert.equal(stored.json.items[1].status, 'complete');
  assert.equal(stored.json.items[1].citations[0].title, 'Mietvertrag.pdf');
  const found = await call(base, 'GET', '/api/v1/conversations?search=monatsende', null, editor);
  assert.equal(found.json.items.length, 1);
  assert.equal(found.json.items[0].title, 'Wie lang ist die Kündigungsfrist?');
});

test('a reconnect with Last-Event-ID gets only what it missed', async () => {
  const res = await fetch(`${base}/api/v1/conversations/${conversation}/messages/${answerId}/events`, {
    headers: { Authorization: `Bearer ${editor}`, 'Last-Event-ID': '3' },
  });
  assert.equal(res.status, 200);
  const rest = await events(res);
  assert.equal(Number(rest[0].id), 4);
  assert.equal(rest.at(-1).event, 'done');
});

test('feedback reaches the admin review with question, answer and sources', async () => {
  const given = await call(base, 'POST', `/api/v1/conversations/${conversation}/messages/${answerId}/feedback`,
    { rating: -1, comment: 'zu knapp' }, editor);
  assert.equal(given.status, 200, JSON.stringify(given.json));
  assert.equal((await call(base, 'GET', '/api/v1/admin/feedback', null, editor)).status, 403);
  const review = await call(base, 'GET', '/api/v1/admin/feedback?rating=-1', null, admin);
  assert.equal(review.status, 200);
  assert.equal(review.json.items[0].question, 'Wie lang ist die Kündigungsfrist?');
  assert.equal(review.json.items[0].comment, 'zu knapp');
  assert.equal(review.json.items[0].citations[0].page, 3);
});

test('another user cannot see or use the conversation', async () => {
  for (const [method, path, body] of [
    ['GET', `/api/v1/conversations/${conversation}`],
    ['GET', `/api/v1/conversations/${conversation}/messages`],
    ['POST', `/api/v1/conversations/${conversation}/messages`, { content: 'Hallo' }],
    ['POST', `/api/v1/conversations/${conversation}/messages/${answerId}/feedback`, { rating: 1 }],
    ['GET', `/api/v1/conversations/${conversation}/messages/${answerId}/events`],
    ['DELETE', `/api/v1/conversations/${conversation}`],
  ]) {
    const r = await call(base, method, path, body, member);
    assert.equal(r.status, 404, `${method} ${path}: ${JSON.stringify(r.json)}`);
  }
  assert.deepEqual((await call(base, 'GET', '/api/v1/conversations', null, member)).json.items, []);
});

test('personas: KAYA by default, custom ones by editors, applied to chats and offered as models', async () => {
  const list = await call(base, 'GET', '/api/v1/personas', null, member);
  assert.equal(list.json.items[0].id, 'kaya');
  assert.equal((await call(base, 'POST', '/api/v1/personas', { name: 'Lotte' }, member)).status, 403);
  const lotte = await call(base, 'POST', '/api/v1/personas', {
    name: 'Lotte', role: 'Mietrechtsberaterin', address: 'du', traits: { agreeableness: 90 },
    default_spaces: ['Mietrecht'], rules: ['Keine Rechtsberatung im Einzelfall.'],
  }, editor);
  assert.equal(lotte.status, 201, JSON.stringify(lotte.json));
  const prompt = await call(base, 'GET', `/api/v1/personas/${lotte.json.id}/prompt`, null, member);
  assert.match(prompt.json.prompt, /Du bist Lotte, Mietrechtsberaterin\./);
  assert.match(prompt.json.prompt, /mit „du“ an/);
  const draft = await call(base, 'POST', '/api/v1/personas/draft', { description: 'Ein knapper, formeller Prüfer.' }, member);
  assert.equal(draft.json.persona.verbosity, 'short');
  assert.equal(draft.json.persona.tone, 'formal');
  const avatar = await fetch(`${base}/api/v1/personas/kaya/avatar.svg`, { headers: { Authorization: `Bearer ${member}` } });
  assert.equal(avatar.headers.get('content-type'), 'image/svg+xml');

  // An uploaded avatar replaces the generated one: cropped, scaled, metadata gone.
  const png = makePng(400, 300, 'GPS secret-location');
  const upload = (token, body, type = 'image/png') => fetch(`${base}/api/v1/personas/${lotte.json.id}/avatar`, {
    method: 'PUT', headers: { Authorization: `Bearer ${token}`, 'Content-Type': type }, body });
  assert.equal((await upload(member, png)).status, 403);
  const svgUpload = await upload(editor, '<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>', 'image/svg+xml');
  assert.equal(svgUpload.status, 415);
  assert.equal((await svgUpload.json()).error.code, 'unsupported_media_type');
  assert.equal((await upload(editor, png.subarray(0, 60))).status, 400);
  const uploaded = await upload(editor, png);
  assert.equal(uploaded.status, 200);
  const withAvatar = await uploaded.json();
  assert.equal(withAvatar.avatar.uploaded, true);
  const image = await fetch(`${base}/api/v1/personas/${lotte.json.id}/avatar`, { headers: { Authorization: `Bearer ${member}` } });
  assert.equal(image.headers.get('content-type'), 'image/png');
  const bytes = Buffer.from(await image.arrayBuffer());
  assert.equal(bytes.readUInt32BE(16), 256);  // IHDR width and height
  assert.equal(bytes.readUInt32BE(20), 256);
  assert.equal(bytes.includes('secret-location'), false);
  const etag = image.headers.get('etag');
  assert.equal(etag, `"${withAvatar.avatar.etag}"`);
  const again = await fetch(`${base}/api/v1/personas/${lotte.json.id}/avatar`,
    { headers: { Authorization: `Bearer ${member}`, 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  const unknown = await fetch(`${base}/api/v1/personas/nobody-here/avatar`, { headers: { Authorization: `Bearer ${member}` } });
  assert.equal(unknown.status, 404);
  // Editing the persona keeps the image; removing it brings the generated SVG back.
  const edited = await call(base, 'PUT', `/api/v1/personas/${lotte.json.id}`, { ...withAvatar, greeting: 'Hallo!' }, editor);
  assert.equal(edited.json.avatar.etag, withAvatar.avatar.etag);
  const removed = await fetch(`${base}/api/v1/personas/${lotte.json.id}/avatar`,
    { method: 'DELETE', headers: { Authorization: `Bearer ${editor}` } });
  assert.equal((await removed.json()).avatar.uploaded, false);
  const generated = await fetch(`${base}/api/v1/personas/${lotte.json.id}/avatar`, { headers: { Authorization: `Bearer ${member}` } });
  assert.equal(generated.headers.get('content-type'), 'image/svg+xml');
  assert.equal((await upload(editor, Buffer.alloc(6 << 20, 1))).status, 413);

  // Drafting with a model: the offline extractive model writes no persona JSON, so the
  // template answers and says why; an unknown model is refused.
  const byModel = await call(base, 'POST', '/api/v1/personas/draft',
    { description: 'Ein knapper, formeller Prüfer.', model: 'extractive' }, member);
  assert.equal(byModel.status, 200, JSON.stringify(byModel.json));
  assert.equal(byModel.json.generator, 'template');
  assert.match(byModel.json.note, /could not be used/);
  assert.equal((await call(base, 'POST', '/api/v1/personas/draft', { description: 'x', model: 'no-such-model' }, member)).status, 404);
  assert.equal((await call(base, 'POST', '/api/v1/personas/draft', { description: 'x', language: 'fr' }, member)).status, 400);

  // A conversation with Lotte takes her default spaces.
  const c = await call(base, 'POST', '/api/v1/conversations', { persona_id: 'Lotte' }, editor);
  assert.equal(c.status, 201, JSON.stringify(c.json));
  assert.equal(c.json.persona_id, lotte.json.id);
  assert.equal(c.json.spaces.length, 1);
  assert.equal((await call(base, 'GET', `/api/v1/conversations/${conversation}`, null, editor)).json.persona_id, 'kaya');
  // Over /v1 a persona is a model; Lotte answers from her spaces with citations.
  const models = await call(base, 'GET', '/v1/models', null, editor);
  assert.ok(models.json.data.some((m) => m.id === 'persona:Lotte'));
  const answer = await call(base, 'POST', '/v1/chat/completions', {
    model: 'persona:Lotte', messages: [{ role: 'user', content: 'Sind Haustiere erlaubt?' }] }, editor);
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.equal(answer.json.model, 'persona:Lotte');
  assert.equal(answer.json.citations[0].page, 4);
  assert.equal((await call(base, 'POST', '/v1/chat/completions', {
    model: 'persona:Nobody', messages: [{ role: 'user', content: 'x' }] }, editor)).status, 404);
});

test('an admin sets a user\'s own daily token budget, over the roles\'', async () => {
  const me = await call(base, 'GET', '/api/v1/auth/me', null, member);
  const path = `/api/v1/admin/users/${me.json.id}/token-budget`;
  assert.equal((await call(base, 'PUT', path, { daily_tokens: 5 }, editor)).status, 403);
  assert.equal((await call(base, 'PUT', path, { daily_tokens: -1 }, admin)).status, 400);
  assert.equal((await call(base, 'PUT', path, { daily_tokens: 'lots' }, admin)).status, 400);
  const ghost = '/api/v1/admin/users/0190aaaa-0000-7000-8000-000000000000/token-budget';
  const unknown = await call(base, 'PUT', ghost, { daily_tokens: 5 }, admin);
  assert.equal(unknown.status, 404, JSON.stringify(unknown.json));
  assert.equal(unknown.json.error.code, 'not_found');
  assert.equal((await call(base, 'GET', ghost, null, admin)).status, 404);
  assert.equal((await call(base, 'GET', path, null, admin)).json.daily_tokens, null);
  const set = await call(base, 'PUT', path, { daily_tokens: 1 }, admin);
  assert.equal(set.status, 200, JSON.stringify(set.json));
  assert.equal((await call(base, 'GET', '/api/v1/usage', null, member)).json.daily_budget, 1);
  // One token: the first answer uses it up, the next call is refused.
  await call(base, 'POST', '/v1/chat/completions', { model: 'extractive', messages: [{ role: 'user', content: 'Hallo' }] }, member);
  const refused = await call(base, 'POST', '/v1/chat/completions', { model: 'extractive', messages: [{ role: 'user', content: 'Hallo' }] }, member);
  assert.equal(refused.status, 429, JSON.stringify(refused.json));
  assert.equal(refused.json.error.code, 'resource_exhausted');
  assert.equal((await call(base, 'PUT', path, { daily_tokens: null }, admin)).json.daily_tokens, null);
  assert.equal((await call(base, 'GET', '/api/v1/usage', null, member)).json.daily_budget, 0);
});

test('bad input gets 4xx JSON errors', async () => {
  const cases = [
    ['POST', '/api/v1/conversations', { model: 'no-such-model' }, 404],
    ['POST', '/api/v1/conversations', { spaces: ['no-such-space'] }, 404],
    ['POST', `/api/v1/conversations/${conversation}/messages`, { content: '' }, 400],
    ['POST', `/api/v1/conversations/${conversation}/messages`, { content: 'x'.repeat(40000) }, 413],
    ['POST', `/api/v1/conversations/${conversation}/messages`, { content: 'x', model: 'ghost' }, 404],
    ['POST', `/api/v1/conversations/${conversation}/messages/${answerId}/feedback`, { rating: 7 }, 400],
  ];
  for (const [method, path, body, status] of cases) {
    const r = await call(base, method, path, body, editor);
    assert.equal(r.status, status, `${method} ${path} -> ${JSON.stringify(r.json)}`);
    assert.ok(r.json.error.code && r.json.error.message);
  }
});

test('one WebSocket carries send, the answer\'s events, cancel and errors', async () => {
  const { default: WebSocket } = await import('ws');
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/api/v1/chat/ws`, { headers: { Authorization: `Bearer ${editor}` } });
  const frames = [];
  let waiter;
  socket.on('message', (data) => {
    frames.push(JSON.parse(data.toString()));
    waiter?.();
  });
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
  const until = (predicate) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no such frame: ${JSON.stringify(frames)}`)), 10000);
    const check = () => { if (predicate()) { clearTimeout(timer); waiter = undefined; resolve(); } };
    waiter = check;
    check();
  });
  socket.send(JSON.stringify({ type: 'send', conversation_id: conversation, content: 'Sind Haustiere erlaubt?' }));
  await until(() => frames.some((f) => f.event === 'done'));
  const answer = frames.filter((f) => f.type === 'event');
  assert.equal(answer[0].event, 'status');
  assert.ok(answer.some((f) => f.event === 'citation' && f.data.page === 4));
  assert.match(answer.filter((f) => f.event === 'token').map((f) => f.data.text).join(''), /Haustiere.*\[1\]/);
  // Bad requests are answered on the socket, which stays open.
  socket.send('not json');
  socket.send(JSON.stringify({ type: 'send', conversation_id: 'no-such-conversation', content: 'x' }));
  socket.send(JSON.stringify({ type: 'cancel', conversation_id: conversation, message_id: answer[0].message_id }));
  await until(() => frames.filter((f) => f.type === 'error').length === 3);
  const errors = frames.filter((f) => f.type === 'error').map((f) => f.code);
  assert.deepEqual(errors, ['invalid_argument', 'not_found', 'failed_precondition']);
  socket.close();
});

