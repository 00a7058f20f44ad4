// Starts a real `wattos serve` for the Node tests: fresh data directory, any free port,
// the one-time admin password read from its output.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

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
