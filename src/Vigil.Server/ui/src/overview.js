import uPlot from 'uplot';
import { el, fmt, fmt1, time, severityBadge } from './dom.js';
import { getJson, subscribe } from './api.js';

const WINDOW = 300; // seconds of history on the live charts

function chart(title, series, opts = {}) {
  const box = el('div', { class: 'chart panel' }, el('h2', { text: title }));
  const data = [[], ...series.map(() => [])];
  const plot = new uPlot({
    width: 400,
    height: 180,
    cursor: { drag: { x: false, y: false } },
    legend: { show: true },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
    axes: [
      { stroke: '#8a97a8', grid: { stroke: '#263040' } },
      { stroke: '#8a97a8', grid: { stroke: '#263040' }, size: 50, ...(opts.yAxis ?? {}) },
    ],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, fill: s.fill, points: { show: false } }))],
  }, data, box);
  const resize = () => plot.setSize({ width: Math.max(240, box.clientWidth - 24), height: 180 });
  return {
    box,
    push(t, values) {
      data[0].push(t);
      values.forEach((v, i) => data[i + 1].push(v));
      while (data[0].length > WINDOW) data.forEach((d) => d.shift());
      plot.setData(data);
    },
    resize,
  };
}

export function renderOverview(view, me, openAlert) {
  const tiles = {};
  const tile = (key, label, cls) => {
    const value = el('div', { class: 'value', text: '–', dataset: { metric: key } });
    tiles[key] = value;
    return el('div', { class: 'tile ' + (cls ?? '') }, el('div', { class: 'label', text: label }), value);
  };
  const charts = {
    rate: chart('Events / s', [{ label: 'events/s', color: '#4ea8de', fill: 'rgba(78,168,222,.12)' }]),
    latency: chart('Processing latency (ms)', [
      { label: 'p50', color: '#3ecf8e' }, { label: 'p99', color: '#ff8c42' },
    ]),
    alerts: chart('Alerts by severity (per 5 s)', [
      { label: 'LOW', color: '#4ea8de' }, { label: 'MEDIUM', color: '#f2c14e' },
      { label: 'HIGH', color: '#ff8c42' }, { label: 'CRITICAL', color: '#ff4d6d' },
    ]),
    lag: chart('Consumer lag (messages)', [{ label: 'lag', color: '#b392f0', fill: 'rgba(179,146,240,.12)' }]),
    checkpoint: chart('Checkpoint duration (ms)', [{ label: 'last checkpoint', color: '#3ecf8e' }]),
  };
  const feed = el('ul', { class: 'feed', id: 'feed' }, el('li', { class: 'empty', text: 'Waiting for alerts…' }));

  view.replaceChildren(
    el('section', { class: 'tiles', 'aria-label': 'Pipeline figures' },
      tile('eventsIn', 'Events in'), tile('eventsPerSecond', 'Events / s'), tile('latencyP99Ms', 'p99 latency ms'),
      tile('deadLetters', 'Dead letters'), tile('critical', 'Critical', 'sev-critical'), tile('high', 'High', 'sev-high'),
      tile('medium', 'Medium', 'sev-medium'), tile('low', 'Low', 'sev-low')),
    el('div', { class: 'overview' },
      el('section', { class: 'charts' }, Object.values(charts).map((c) => c.box)),
      el('section', { class: 'panel feed-panel' }, el('div', { class: 'panel-head' }, el('h1', { text: 'Live alerts' })), feed)),
  );
  requestAnimationFrame(() => Object.values(charts).forEach((c) => c.resize()));
  const onResize = () => Object.values(charts).forEach((c) => c.resize());
  window.addEventListener('resize', onResize);

  let previous = null;
  let bucket = [0, 0, 0, 0];
  let bucketStart = 0;
  const offMetrics = subscribe('metrics', (m) => {
    const t = Date.now() / 1000;
    tiles.eventsIn.textContent = fmt.format(m.eventsIn);
    tiles.eventsPerSecond.textContent = fmt1.format(m.eventsPerSecond);
    tiles.latencyP99Ms.textContent = fmt1.format(m.latencyP99Ms);
    tiles.deadLetters.textContent = fmt.format(m.deadLetters);
    for (const s of ['critical', 'high', 'medium', 'low']) tiles[s].textContent = fmt.format(m.alerts[s]);
    charts.rate.push(t, [m.eventsPerSecond]);
    charts.latency.push(t, [m.latencyP50Ms, m.latencyP99Ms]);
    charts.lag.push(t, [m.consumerLag]);
    charts.checkpoint.push(t, [m.lastCheckpointMs ?? null]);
    if (previous) {
      const raised = m.alertsSinceStart, was = previous.alertsSinceStart;
      bucket = bucket.map((b, i) => b + (raised[['low', 'medium', 'high', 'critical'][i]] - was[['low', 'medium', 'high', 'critical'][i]]));
    }
    previous = m;
    if (t - bucketStart >= 5) {
      if (bucketStart) charts.alerts.push(t, bucket);
      bucket = [0, 0, 0, 0];
      bucketStart = t;
    }
  });

  const addToFeed = (a) => {
    const first = feed.querySelector('.empty');
    if (first) first.remove();
    const existing = feed.querySelector(`[data-alert-id="${CSS.escape(a.alertId)}"]`);
    const item = el('li', { class: 'feed-item fresh', dataset: { alertId: a.alertId }, onclick: () => openAlert(a.alertId) },
      el('div', { class: 'feed-top' }, severityBadge(a.severity), el('span', { class: 'rule', text: a.rule }),
        el('span', { class: 'muted', text: a.status })),
      el('div', { class: 'feed-summary', text: a.summary }),
      el('div', { class: 'muted small', text: (a.userId ?? a.ipAddress ?? '') + ' · ' + time(a.eventTime) }));
    if (existing) existing.replaceWith(item); else feed.prepend(item);
    while (feed.children.length > 50) feed.lastChild.remove();
  };
  getJson('/api/alerts?limit=20').then((page) => page.items.slice().reverse().forEach(addToFeed)).catch(() => {});
  const offAlerts = subscribe('alert', addToFeed);

  return () => { offMetrics(); offAlerts(); window.removeEventListener('resize', onResize); };
}
