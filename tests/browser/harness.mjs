// Starts the real `vigil serve` (embedded broker, simulator, SQLite in a temporary directory) and a real headless
// Chromium, the way a user would meet them. Every test file shares one of each.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '..', '..');
export const screenshots = resolve(process.env.VIGIL_SCREENSHOTS ?? join(root, 'artifacts', 'screenshots'));
export const analystKey = 'browser-analyst-0123456789abcdef';

async function freePort() {
  return new Promise((ok, fail) => {
    const server = net.createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

export async function startVigil() {
  const dll = join(root, 'src', 'Vigil.Server', 'bin', 'Release', 'net10.0', 'vigil.dll');
  if (!existsSync(dll)) throw new Error(`${dll} is missing: build the solution first (./scripts/test.sh does).`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-browser-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = { ...process.env, VIGIL_API_KEYS: `ana:analyst:${analystKey}`, Vigil__Simulator__AttackInterval: '20s' };
  delete env.KAFKA_BOOTSTRAP_SERVERS;
  delete env.POSTGRES_URL;
  const child = spawn('dotnet', [dll, 'serve', '--urls', baseUrl], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vigil exited with ${child.exitCode}:\n${output}`);
    try {
      const r = await fetch(baseUrl + '/api/health');
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`vigil did not start in 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    baseUrl,
    output: () => output,
    async stop() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startBrowser() {
  mkdirSync(screenshots, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

// Signs a page's context in as the analyst through the login form, as a person would.
export async function signIn(page, baseUrl) {
  await page.goto(baseUrl + '/login.html');
  await page.fill('input[name=key]', analystKey);
  await Promise.all([page.waitForURL(baseUrl + '/'), page.click('button[type=submit]')]);
}

export async function ingest(baseUrl, events) {
  const r = await fetch(baseUrl + '/api/events', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${analystKey}` },
    body: JSON.stringify(events),
  });
  if (r.status !== 202) throw new Error(`ingest answered ${r.status}: ${await r.text()}`);
  return r.json();
}
