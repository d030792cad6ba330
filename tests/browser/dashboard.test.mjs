import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startVigil, startBrowser, signIn, ingest, screenshots } from './harness.mjs';

let vigil;
let browser;

before(async () => {
  vigil = await startVigil();
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  await vigil?.stop();
});

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  page.on('dialog', (d) => { page.dialogs = (page.dialogs ?? 0) + 1; d.dismiss(); });
  return page;
}

function failures(user, count, extra = {}) {
  const t = Date.now() - 60_000;
  return Array.from({ length: count }, (_, i) => ({
    eventId: `${user}-${i}-${t}`, eventType: 'LOGIN_FAILED', timestamp: new Date(t + i * 1000).toISOString(),
    userId: user, ipAddress: '203.0.113.99', ...extra,
  }));
}

test('the overview updates live without a reload', async () => {
  const page = await newPage();
  await page.goto(vigil.baseUrl + '/');
  const tile = page.locator('[data-metric=eventsIn]');
  await page.waitForFunction(() => /\d/.test(document.querySelector('[data-metric=eventsIn]')?.textContent ?? ''));
  const first = await tile.textContent();
  let navigations = 0;
  page.on('framenavigated', () => { navigations++; });
  await page.waitForFunction((before) => {
    const now = document.querySelector('[data-metric=eventsIn]')?.textContent;
    return now && now !== before;
  }, first, { timeout: 20_000 });
  assert.equal(navigations, 0, 'the page must update in place');
  await page.waitForTimeout(3000); // let the charts draw a few points for the screenshot
  await page.screenshot({ path: join(screenshots, 'overview.png'), fullPage: true });
  await page.context().close();
});

test('an alert appears in the live feed after a simulated attack', async () => {
  const page = await newPage();
  await signIn(page, vigil.baseUrl);
  await page.waitForSelector('#gen:not([hidden])');
  const before = await page.locator('.feed-item').count();
  const response = page.waitForResponse((r) => r.url().endsWith('/api/generate-test-data') && r.status() === 200);
  await page.click('#gen');
  const burst = await (await response).json();
  const user = burst.userIds[0];
  await page.waitForFunction((u) => [...document.querySelectorAll('.feed-item')].some((li) => li.textContent.includes(u)),
    user, { timeout: 30_000 });
  assert.ok(await page.locator('.feed-item').count() > before);
  await page.context().close();
});

test('acknowledging an alert changes its status', async () => {
  const user = 'ack-' + Date.now();
  await ingest(vigil.baseUrl, failures(user, 5));
  let alert;
  for (let i = 0; i < 60 && !alert; i++) {
    const page = await (await fetch(`${vigil.baseUrl}/api/alerts?user=${user}`)).json();
    alert = page.items[0];
    if (!alert) await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(alert, 'the ingested attack raised an alert');
  const page = await newPage();
  await signIn(page, vigil.baseUrl);
  await page.goto(`${vigil.baseUrl}/#/alerts?user=${user}`);
  await page.waitForSelector(`tr[data-alert-id="${alert.alertId}"]`);
  await page.screenshot({ path: join(screenshots, 'alerts.png'), fullPage: true });
  await page.click(`tr[data-alert-id="${alert.alertId}"]`);
  await page.waitForSelector('#d-acknowledge');
  assert.equal(await page.textContent('#d-status'), 'OPEN');
  await page.fill('#d-note', 'checked by the browser test');
  await page.click('#d-acknowledge');
  await page.waitForFunction(() => document.querySelector('#d-status')?.textContent === 'ACKNOWLEDGED');
  const stored = await (await fetch(`${vigil.baseUrl}/api/alerts/${alert.alertId}`)).json();
  assert.equal(stored.status, 'ACKNOWLEDGED');
  assert.equal(stored.statusBy, 'ana');
  await page.screenshot({ path: join(screenshots, 'alert-detail.png'), fullPage: true });
  await page.context().close();
});

test('an XSS payload in the user name and user agent renders as text', async () => {
  const payload = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';
  const user = `<b>x${Date.now()}</b>` + payload;
  await ingest(vigil.baseUrl, failures(user.slice(0, 128), 5, { username: payload, userAgent: payload }));
  const page = await newPage();
  await page.goto(vigil.baseUrl + '/#/alerts');
  await page.waitForFunction((u) => [...document.querySelectorAll('#alerts td')].some((td) => td.textContent === u),
    user.slice(0, 128), { timeout: 30_000 });
  await page.locator('#alerts tr', { hasText: '<b>x' }).first().click();
  await page.waitForSelector('#d-evidence');
  const evidence = await page.textContent('#d-evidence');
  assert.ok(evidence.includes('<script>'), 'the payload is shown as text in the evidence');
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'no injected script ran');
  assert.equal(page.dialogs ?? 0, 0);
  assert.equal(await page.locator('#view script, #view img[src=x], #view b').count(), 0, 'no payload element exists in the page');
  await page.screenshot({ path: join(screenshots, 'xss.png'), fullPage: true });
  await page.context().close();
});

test('the pipeline page shows the partitions, offsets and queues', async () => {
  const page = await newPage();
  await page.goto(vigil.baseUrl + '/#/pipeline');
  await page.waitForFunction(() => document.querySelectorAll('#p-partitions tr td').length > 1 &&
    /user-events/.test(document.querySelector('#p-partitions').textContent), null, { timeout: 30_000 });
  assert.match(await page.textContent('#p-queues'), /consumer → pipeline/);
  await page.screenshot({ path: join(screenshots, 'pipeline.png'), fullPage: true });
  await page.context().close();
});

test('the segments, models and user pages show the trained models', async () => {
  let metrics;
  for (let i = 0; i < 120; i++) {
    metrics = await (await fetch(vigil.baseUrl + '/api/ml-metrics')).json();
    if (metrics.kmeans && metrics.iforest) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(metrics.kmeans && metrics.iforest, 'the background trainer trains both models');
  const page = await newPage();
  await page.goto(vigil.baseUrl + '/#/segments');
  await page.waitForSelector('#segments table');
  assert.ok((await page.locator('#segments tbody tr').count()) >= 5, 'k = 5 segments and a centroid table');
  await page.screenshot({ path: join(screenshots, 'segments.png'), fullPage: true });
  await page.goto(vigil.baseUrl + '/#/models');
  await page.waitForSelector('#models dl');
  assert.match(await page.textContent('#models'), /Isolation Forest/);
  assert.match(await page.textContent('#behavior-model'), /BEHAVIOR_ANOMALY .*(Learning: \d+ of 200|Version)/s, 'the stream-learnt forest has its own card');
  await page.screenshot({ path: join(screenshots, 'models.png'), fullPage: true });
  const alerts = await (await fetch(vigil.baseUrl + '/api/alerts?limit=50')).json();
  const user = alerts.items.find((a) => a.userId)?.userId;
  assert.ok(user, 'some alert names a user');
  await page.goto(vigil.baseUrl + '/#/users/' + encodeURIComponent(user));
  await page.waitForSelector('#u-title');
  assert.equal(await page.textContent('#u-title'), 'User ' + user);
  assert.match(await page.textContent('#user'), /Recent alerts/);
  await page.screenshot({ path: join(screenshots, 'user.png'), fullPage: true });
  await page.context().close();
});

test('an unauthenticated write is refused', async () => {
  const page = await newPage();
  await page.goto(vigil.baseUrl + '/');
  await page.waitForSelector('#who');
  assert.equal(await page.isVisible('#gen'), false, 'an anonymous viewer sees no write buttons');
  const status = await page.evaluate(async () => {
    const r = await fetch('/api/generate-test-data', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Vigil-Csrf': '1' }, body: '{}' });
    return r.status;
  });
  assert.equal(status, 401);
  await page.goto(vigil.baseUrl + '/login.html');
  await page.screenshot({ path: join(screenshots, 'login.png') });
  await page.context().close();
});
