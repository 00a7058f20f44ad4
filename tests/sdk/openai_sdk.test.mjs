// The official `openai` SDK as a client of WattOS's /v1 API, against a real
// `wattos serve` with a fresh data directory: models, chat (streamed and not, tools),
// embeddings in both encodings, and the errors an SDK user sees. A scripted
// OpenAI-compatible provider (below) stands in for a remote model that calls tools.
//
// Run by ctest (tests/CMakeLists.txt) with WATTOS_TEST_BINARY set; `npm test` by hand.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import OpenAI, { toFile } from 'openai';
import { startWattos, stopWattos, call as callAt } from './wattos.mjs';

const binary = process.env.WATTOS_TEST_BINARY;
if (!binary) throw new Error('WATTOS_TEST_BINARY must name the wattos executable');

let dir, server, provider, baseURL, apiKey, client;
const providerRequests = [];

// Streams OpenAI chunks: a tool call split across chunks when tools are offered,
// plain text otherwise.
function startProvider() {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.url.endsWith('/audio/speech')) {
          res.writeHead(200, { 'Content-Type': 'audio/mpeg' });
          res.end(`ID3:${JSON.parse(body).input}`);
          return;
        }
        if (req.url.endsWith('/audio/transcriptions')) {
          const ok = body.includes('name="file"') && body.includes('RIFFdata');
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ text: ok ? 'hallo welt' : '' }));
          return;
        }
        const parsed = JSON.parse(body);
        providerRequests.push(parsed);
        if (parsed.model === 'outage') {
          res.writeHead(503, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'down for maintenance' } }));
          return;
        }
        if (parsed.model === 'storm') {
          res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '0' });
          res.end(JSON.stringify({ error: { message: 'slow down' } }));
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        const chunk = (delta, finish = null) =>
          res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', model: parsed.model,
                                               choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
        if (parsed.tools) {
          chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_7', type: 'function',
                                                     function: { name: 'lookup_contract', arguments: '' } }] });
          chunk({ tool_calls: [{ index: 0, function: { arguments: '{"nu' } }] });
          chunk({ tool_calls: [{ index: 0, function: { arguments: 'mber":"V-42"}' } }] });
          chunk({}, 'tool_calls');
        } else {
          chunk({ role: 'assistant', content: 'Guten' });
          chunk({ content: ' Tag' });
          chunk({}, 'stop');
        }
        res.write(`data: ${JSON.stringify({ id: 'x', choices: [], usage: { prompt_tokens: 9, completion_tokens: 3 } })}\n\n`);
        res.end('data: [DONE]\n\n');
      });
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wattos-sdk-'));
  provider = await startProvider();
  const config = join(dir, 'wattos.yaml');
  const endpoint = `http://127.0.0.1:${provider.address().port}/v1`;
  const model = (id, upstream, caps) =>
    [`  - id: ${id}`, '    provider: openai', `    endpoint: ${endpoint}`, `    upstream_model: ${upstream}`,
     `    capabilities: [${caps}]`];
  writeFileSync(config, [
    'llm: {retry_base_ms: 1, retry_max_ms: 5, breaker_failures: 100}',
    'models:',
    ...model('scripted-tools', 'tools', 'chat, tools'),
    ...model('scripted-storm', 'storm', 'chat'),
    ...model('scripted-outage', 'outage', 'chat'),
    ...model('scripted-vision', 'vision', 'chat, vision'),
    ...model('scripted-tts', 'tts-1', 'speech'),
    ...model('scripted-stt', 'whisper-1', 'transcription'),
    '',
  ].join('\n'));
  server = await startWattos({ binary, dir, configPath: config });
  baseURL = `http://127.0.0.1:${server.port}/v1`;
  const login = await callAt(`http://127.0.0.1:${server.port}`, 'POST', '/api/v1/auth/login', { email: 'admin@localhost', password: server.password });
  assert.equal(login.status, 200, JSON.stringify(login.json));
  const key = await callAt(`http://127.0.0.1:${server.port}`, 'POST', '/api/v1/api-keys', { name: 'sdk', permissions: ['chat:use'] }, login.json.access_token);
  assert.equal(key.status, 201, JSON.stringify(key.json));
  apiKey = key.json.key;
  client = new OpenAI({ apiKey, baseURL, maxRetries: 0 });
});

after(async () => {
  await stopWattos(server);
  provider?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sources = 'Antworte aus den Quellen.\n' +
  '[1] Mietvertrag.pdf, Seite 3: Die Kündigungsfrist beträgt drei Monate zum Monatsende.\n' +
  '[2] Hausordnung.pdf, Seite 1: Die Nachtruhe gilt von 22 bis 6 Uhr.';

test('models lists the built-in and configured models', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  for (const id of ['extractive', 'wattos-embed', 'scripted-tools']) assert.ok(ids.includes(id), ids.join(','));
});

test('chat completion (not streamed) answers with a citation', async () => {
  const res = await client.chat.completions.create({
    model: 'extractive',
    messages: [{ role: 'system', content: sources }, { role: 'user', content: 'Wie lang ist die Kündigungsfrist?' }],
  });
  assert.equal(res.object, 'chat.completion');
  assert.match(res.choices[0].message.content, /drei Monate.*\[1\]/);
  assert.equal(res.choices[0].finish_reason, 'stop');
  assert.ok(res.usage.total_tokens > 0);
});

test('an image in a message reaches a vision model; other models refuse it', async () => {
  // A real 16 x 16 white PNG: images for external models are read (OCR) for personal
  // data first, and one without any goes on as it came.
  const blank = 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAAAAAA6mKC9AAAAD0lEQVR42mP4jwYYRrYAAID5/wGR6yAaAAAAAElFTkSuQmCC';
  const content = [
    { type: 'text', text: 'Was steht auf dem Schild?' },
    { type: 'image_url', image_url: { url: `data:image/png;base64,${blank}`, detail: 'low' } },
  ];
  const res = await client.chat.completions.create({ model: 'scripted-vision', messages: [{ role: 'user', content }] });
  assert.equal(res.choices[0].message.content, 'Guten Tag');
  const sent = providerRequests.at(-1);
  assert.equal(sent.model, 'vision');
  assert.deepEqual(sent.messages.at(-1).content, content);
  await assert.rejects(
    client.chat.completions.create({ model: 'extractive', messages: [{ role: 'user', content }] }),
    (err) => err.status === 400 && /vision/.test(err.message));
  await assert.rejects(
    client.chat.completions.create({ model: 'scripted-vision', messages: [{ role: 'user', content: [
      { type: 'image_url', image_url: { url: 'file:///etc/passwd' } }] }] }),
    (err) => err.status === 400);
});

test('chat completion streamed with usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'extractive',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'system', content: sources }, { role: 'user', content: 'Wann gilt die Nachtruhe?' }],
  });
  let text = '';
  let chunks = 0;
  let usage;
  let finish;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    text += choice.delta.content ?? '';
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  assert.ok(chunks > 3, `only ${chunks} chunks`);
  assert.match(text, /22 bis 6 Uhr.*\[2\]/);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.completion_tokens > 0);
});

test('tool calls, streamed and not, reach the SDK whole', async () => {
  const tools = [{ type: 'function', function: { name: 'lookup_contract', description: 'Finds a contract',
                                                 parameters: { type: 'object', properties: { number: { type: 'string' } } } } }];
  const messages = [{ role: 'user', content: 'Zeig mir Vertrag V-42' }];
  const res = await client.chat.completions.create({ model: 'scripted-tools', messages, tools });
  const call = res.choices[0].message.tool_calls[0];
  assert.equal(call.id, 'call_7');
  assert.equal(call.function.name, 'lookup_contract');
  assert.deepEqual(JSON.parse(call.function.arguments), { number: 'V-42' });
  assert.equal(res.choices[0].finish_reason, 'tool_calls');
  assert.equal(providerRequests.at(-1).tools[0].function.name, 'lookup_contract');

  const runner = client.beta.chat.completions.stream({ model: 'scripted-tools', messages, tools });
  const final = await runner.finalChatCompletion();
  assert.deepEqual(JSON.parse(final.choices[0].message.tool_calls[0].function.arguments), { number: 'V-42' });
});

test('embeddings in float and base64 encodings agree', async () => {
  const input = ['Die Kündigungsfrist beträgt drei Monate.', 'Nachtruhe'];
  const asFloat = await client.embeddings.create({ model: 'wattos-embed', input, encoding_format: 'float' });
  const asBase64 = await client.embeddings.create({ model: 'wattos-embed', input }); // the SDK asks for base64
  assert.equal(asFloat.data.length, 2);
  assert.equal(asFloat.data[0].embedding.length, 384);
  assert.equal(asBase64.data[0].embedding.length, 384);
  for (let i = 0; i < 384; i++) {
    assert.ok(Math.abs(asFloat.data[0].embedding[i] - asBase64.data[0].embedding[i]) < 1e-6);
  }
  const norm = Math.sqrt(asFloat.data[0].embedding.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
});

test('audio speech and transcription pass through the gateway', async () => {
  const speech = await client.audio.speech.create({ model: 'scripted-tts', voice: 'alloy', input: 'Guten Tag' });
  assert.equal(speech.headers.get('content-type'), 'audio/mpeg');
  assert.equal(Buffer.from(await speech.arrayBuffer()).toString(), 'ID3:Guten Tag');
  const heard = await client.audio.transcriptions.create({
    model: 'scripted-stt',
    file: await toFile(Buffer.from('RIFFdata-not-really-audio'), 'note.wav'),
  });
  assert.equal(heard.text, 'hallo welt');
});

test('a provider rate-limit storm reaches the SDK as a RateLimitError after the gateway\'s retries', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'scripted-storm', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.RateLimitError && e.headers['retry-after'] !== undefined);
  assert.equal(providerRequests.filter((r) => r.model === 'storm').length, 3);
});

// As nginx does: a provider's 5xx (after the gateway's retries) is our 502, naming it.
test('a provider that is down reaches the SDK as a 502 that names the provider\'s answer', async () => {
  for (const stream of [false, true]) {
    const before = providerRequests.filter((r) => r.model === 'outage').length;
    await assert.rejects(
      client.chat.completions.create({ model: 'scripted-outage', stream, messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof OpenAI.InternalServerError && e.status === 502 &&
        /the model provider failed with HTTP 503: down for maintenance/.test(e.message));
    assert.equal(providerRequests.filter((r) => r.model === 'outage').length - before, 3, `stream: ${stream}`);
  }
});

test('errors arrive as the SDK\'s typed errors', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.NotFoundError && /does not exist/.test(e.message));
  await assert.rejects(
    client.chat.completions.create({ model: 'extractive', messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError);
  const anonymous = new OpenAI({ apiKey: 'wk_not_a_real_key', baseURL, maxRetries: 0 });
  await assert.rejects(anonymous.models.list(), (e) => e instanceof OpenAI.AuthenticationError);
});
