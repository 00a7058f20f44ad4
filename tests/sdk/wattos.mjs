// Starts a real `wattos serve` for the Node tests: fresh data directory, any free port,
// the one-time admin password read from its output.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

export function startWattos({ binary, dir, configPath, service, env = {} }) {
  return new Promise((resolve, reject) => {
    const args = ['serve', '--port', '0'];
    if (configPath) args.push('--config', configPath);
    if (service) args.push('--service', service);
    const child = spawn(binary, args, {
      env: { ...process.env, WATTOS_DATA_DIR: join(dir, 'data'), WATTOS_LOG_ACCESS_LOG: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let password;
    const timer = setTimeout(() => reject(new Error(`wattos did not start:\n${out}`)), 30000);
    const onData = (d) => {
      out += d;
      const pw = out.match(/One-time password:\s+(\S+)/);
      if (pw) password = pw[1];
      for (const line of out.split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        clearTimeout(timer);
        resolve({ child, port: JSON.parse(line).port, password });
        return;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      reject(new Error(`wattos exited with ${code}:\n${out}`));
      // A server that dies during a test says why (its last output), not just "fetch failed".
      if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGKILL') {
        console.error(`wattos exited unexpectedly (${code ?? signal}):\n${out.slice(-20000)}`);
      }
    });
  });
}

// A JSON call; answers {status, json}.
export async function call(base, method, path, body, token) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

// Stops the server and waits for it to exit (it writes its indexes on the way out).
export async function stopWattos(server) {
  // Gone already (exited, or killed by a signal: then exitCode stays null).
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

// A PNG (RGB, left half red, right half blue) with a tEXt chunk carrying `text`.
export function makePng(width, height, text) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;  // bit depth
  ihdr[9] = 2;  // RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) row[1 + x * 3 + (x < width / 2 ? 0 : 2)] = 255;
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('tEXt', Buffer.from(`Comment\0${text}`, 'latin1')),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
