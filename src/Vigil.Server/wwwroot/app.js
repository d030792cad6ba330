// Vigil dashboard. Every value from the API is put on the page with textContent, never as HTML:
// user names, user agents and summaries are attacker-controlled.
'use strict';

const $ = (id) => document.getElementById(id);
const seen = new Set();
const fmt = new Intl.NumberFormat('en-US');

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
    await fetch('/api/generate-test-data', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ attack: 'BRUTE_FORCE' }),
    });
  } finally {
    setTimeout(() => { $('gen').disabled = false; }, 1500);
  }
});
$('f-severity').addEventListener('change', () => { seen.clear(); refresh(); });

refresh();
setInterval(refresh, 2000);
