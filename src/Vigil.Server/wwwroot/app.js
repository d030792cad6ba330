// Vigil dashboard. Every value from the API is put on the page with textContent, never as HTML:
// user names, user agents and summaries are attacker-controlled.
'use strict';

const $ = (id) => document.getElementById(id);
const seen = new Set();
const fmt = new Intl.NumberFormat('en-US');
let me = { canWrite: false };
let current = null;

// State-changing calls carry the CSRF header the server requires alongside the session cookie.
async function post(url, body) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Vigil-Csrf': '1' },
    body: JSON.stringify(body ?? {}),
  });
  if (!r.ok) throw new Error(url + ' answered ' + r.status);
  return r.json();
}

async function loadMe() {
  try {
    me = await getJson('/api/me');
  } catch {
    me = { canWrite: false, authenticated: false };
  }
  $('who').textContent = me.authenticated ? me.name + ' · ' + me.role : '';
  $('signin').hidden = !!me.authenticated;
  $('gen').hidden = !me.canWrite;
}

function field(dl, name, value) {
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = value ?? '–';
  dl.append(dt, dd);
}

function showDetail(a) {
  current = a;
  $('detail').hidden = false;
  $('d-title').textContent = a.rule + ' · ' + a.severity + ' · ' + a.status;
  const dl = $('d-fields');
  dl.replaceChildren();
  field(dl, 'Summary', a.summary);
  field(dl, 'User', a.userId);
  field(dl, 'IP address', a.ipAddress);
  field(dl, 'Event time', a.eventTime);
  field(dl, 'Window', (a.windowStart ?? '–') + ' → ' + (a.windowEnd ?? '–'));
  field(dl, 'Detected at', a.detectedAt);
  field(dl, 'Score', a.score);
  field(dl, 'Status', a.status + (a.statusBy ? ' by ' + a.statusBy + ' at ' + a.statusAt : ''));
  if (a.statusNote) field(dl, 'Note', a.statusNote);
  field(dl, 'Alert id', a.alertId);
  $('d-evidence').textContent = JSON.stringify(a.evidence, null, 2);
  const open = a.status === 'OPEN', acked = a.status === 'ACKNOWLEDGED';
  $('d-ack').hidden = !(me.canWrite && open);
  $('d-resolve').hidden = !(me.canWrite && (open || acked));
  $('d-fp').hidden = !(me.canWrite && (open || acked));
}

async function move(action) {
  if (!current) return;
  try {
    const updated = await post('/api/alerts/' + encodeURIComponent(current.alertId) + '/' + action, {});
    showDetail(updated);
    refresh();
  } catch (e) {
    $('d-title').textContent = 'Could not ' + action + ': ' + e.message;
  }
}

function setText(id, value) { $(id).textContent = value; }

function cell(text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text ?? '–';
  return td;
}

function renderAlerts(items) {
  const body = $('alerts');
  const rows = [];
  for (const a of items) {
    const tr = document.createElement('tr');
    if (seen.size > 0 && !seen.has(a.alertId)) tr.className = 'fresh';
    tr.append(cell(new Date(a.eventTime).toLocaleString(), 'time'));
    const sevCell = document.createElement('td');
    const badge = document.createElement('span');
    badge.className = 'sev ' + (['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].includes(a.severity) ? a.severity : '');
    badge.textContent = a.severity;
    sevCell.append(badge);
    tr.append(sevCell, cell(a.rule), cell(a.userId), cell(a.ipAddress, 'ip'), cell(a.summary, 'summary'));
    tr.dataset.alertId = a.alertId;
    tr.addEventListener('click', () => showDetail(a));
    rows.push(tr);
  }
  for (const a of items) seen.add(a.alertId);
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = cell('No alerts yet.', 'empty');
    td.colSpan = 6;
    tr.append(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!r.ok) throw new Error(url + ' answered ' + r.status);
  return r.json();
}

async function refresh() {
  try {
    const severity = $('f-severity').value;
    const [m, page] = await Promise.all([
      getJson('/api/metrics'),
      getJson('/api/alerts?limit=50' + (severity ? '&severity=' + encodeURIComponent(severity) : '')),
    ]);
    setText('m-events', fmt.format(m.eventsIn));
    setText('m-rate', fmt.format(m.eventsPerSecond));
    setText('m-dlq', fmt.format(m.deadLetters));
    setText('m-critical', fmt.format(m.alerts.critical));
    setText('m-high', fmt.format(m.alerts.high));
    setText('m-medium', fmt.format(m.alerts.medium));
    setText('m-low', fmt.format(m.alerts.low));
    setText('m-latest', m.latestEventTime ? new Date(m.latestEventTime).toLocaleString() : '–');
    setText('m-uptime', Math.round(m.uptimeSeconds) + ' s');
    renderAlerts(page.items);
    $('health-dot').className = 'dot ok';
    setText('health-text', 'live');
  } catch (e) {
    $('health-dot').className = 'dot bad';
    setText('health-text', 'disconnected');
  }
}

$('gen').addEventListener('click', async () => {
  $('gen').disabled = true;
  try {
    await post('/api/generate-test-data', { attack: 'BRUTE_FORCE' });
  } finally {
    setTimeout(() => { $('gen').disabled = false; }, 1500);
  }
});
$('f-severity').addEventListener('change', () => { seen.clear(); refresh(); });

$('d-ack').addEventListener('click', () => move('acknowledge'));
$('d-resolve').addEventListener('click', () => move('resolve'));
$('d-fp').addEventListener('click', () => move('false-positive'));
$('d-close').addEventListener('click', () => { $('detail').hidden = true; current = null; });

loadMe().then(refresh);
setInterval(refresh, 2000);
