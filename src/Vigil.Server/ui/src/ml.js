import { el, fmt, fmt1, time, severityBadge } from './dom.js';
import { getJson, post } from './api.js';

const num = (v) => (typeof v === 'number' ? (Math.abs(v) >= 100 ? fmt.format(Math.round(v)) : fmt1.format(v === 0 ? 0 : v)) : v ?? '–');

export function renderSegments(view) {
  const box = el('section', { class: 'panel', id: 'segments' }, el('p', { class: 'empty', text: 'Loading…' }));
  view.replaceChildren(box);
  getJson('/api/segments').then((s) => {
    if (!s.segments?.length) {
      box.replaceChildren(el('p', { class: 'empty', text: 'No segmentation model yet: it is trained once enough users have been seen.' }));
      return;
    }
    const features = Object.keys(s.segments[0].centroid);
    box.replaceChildren(
      el('div', { class: 'panel-head' }, el('h1', { text: `Segments · model v${s.modelVersion} · k = ${s.k} · trained ${time(s.trainedAt)}` })),
      el('table', {}, el('thead', {}, el('tr', {}, ['Segment', 'Users', 'Share'].map((h) => el('th', { text: h })))),
        el('tbody', {}, s.segments.map((g) => el('tr', {}, el('td', { text: g.name }), el('td', { text: fmt.format(g.users) }),
          el('td', { text: fmt1.format(100 * g.share) + ' %' }))))),
      el('h2', { text: 'Centroids, in original units' }),
      el('div', { class: 'scroll' }, el('table', {},
        el('thead', {}, el('tr', {}, el('th', { text: 'Feature' }), s.segments.map((g) => el('th', { text: g.name })))),
        el('tbody', {}, features.map((f) => el('tr', {}, el('td', { text: f }), s.segments.map((g) => el('td', { text: num(g.centroid[f]) }))))))));
  }).catch((e) => box.replaceChildren(el('p', { class: 'empty', text: 'Could not load: ' + e.message })));
  return () => {};
}

export function renderModels(view, me) {
  const box = el('section', { class: 'panel', id: 'models' }, el('p', { class: 'empty', text: 'Loading…' }));
  view.replaceChildren(box);
  const model = (m) => m ? el('dl', { class: 'fields' },
    ...[['Kind', m.kind], ['Version', m.version], ['Trained', time(m.trainedAt)], ['Sample', fmt.format(m.sampleCount) + ' users'],
      ['Training', fmt1.format(m.trainingMs) + ' ms'],
      ...Object.entries(m.parameters ?? {}).map(([k, v]) => ['param ' + k, num(v)]),
      ...Object.entries(m.metrics ?? {}).map(([k, v]) => [k, num(v)])].flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]))
    : el('p', { class: 'empty', text: 'Not trained yet.' });
  async function load() {
    const m = await getJson('/api/ml-metrics');
    box.replaceChildren(
      el('div', { class: 'panel-head' }, el('h1', { text: 'Models' }),
        me.isAdmin ? el('button', { type: 'button', id: 'retrain', text: 'Retrain now', onclick: async (e) => {
          e.target.disabled = true;
          try { await post('/api/ml/retrain', {}); } catch { /* shown by the unchanged versions */ }
          load();
        } }) : null),
      el('div', { class: 'models' }, el('div', {}, el('h2', { text: 'Segmentation (K-Means)' }), model(m.kmeans)),
        el('div', {}, el('h2', { text: 'Anomaly (Isolation Forest)' }), model(m.iforest)),
        el('div', { id: 'behavior-model' }, el('h2', { text: 'BEHAVIOR_ANOMALY (forest learnt in the stream)' }),
          m.behavior?.model ? model(m.behavior.model)
            : el('p', { class: 'empty', text: `Learning: ${fmt.format(m.behavior?.sampleUsers ?? 0)} of ${fmt.format(m.behavior?.minTrainingUsers ?? 0)} established users seen before the first forest${m.behavior?.version ? ` (forest v${m.behavior.version} in service)` : ''}.` }))),
      el('h2', { text: 'History' }),
      el('table', {}, el('thead', {}, el('tr', {}, ['Kind', 'Version', 'Trained', 'Sample', 'Key metric'].map((h) => el('th', { text: h })))),
        el('tbody', {}, (m.history ?? []).map((h) => el('tr', {}, el('td', { text: h.kind }), el('td', { text: h.version }),
          el('td', { text: time(h.trainedAt) }), el('td', { text: fmt.format(h.sampleCount) }),
          el('td', { text: h.kind === 'kmeans' ? 'inertia ' + num(h.metrics?.inertia) : 'p99 score ' + num(h.metrics?.scoreP99) }))))));
  }
  load().catch((e) => box.replaceChildren(el('p', { class: 'empty', text: 'Could not load: ' + e.message })));
  return () => {};
}

export function renderUser(view, me, id) {
  const box = el('section', { class: 'panel', id: 'user' }, el('p', { class: 'empty', text: 'Loading…' }));
  view.replaceChildren(box);
  getJson('/api/users/' + encodeURIComponent(id)).then((u) => {
    const p = u.profile;
    const field = (k, v) => [el('dt', { text: k }), el('dd', { text: v ?? '–' })];
    box.replaceChildren(
      el('div', { class: 'panel-head' }, el('h1', { id: 'u-title', text: 'User ' + u.userId })),
      el('dl', { class: 'fields' },
        ...field('Segment', p?.segment), ...field('Anomaly score', p?.anomalyScore != null ? fmt1.format(p.anomalyScore) : null),
        ...field('Anomalous', p ? (p.isAnomaly ? 'yes' : 'no') : null),
        ...field('Learning', p ? (p.learningComplete ? 'complete' : 'still learning (too few logins)') : null)),
      el('h2', { text: 'Why this score: top features' }),
      el('table', {}, el('thead', {}, el('tr', {}, ['Feature', 'Share', 'Value', 'z'].map((h) => el('th', { text: h })))),
        el('tbody', {}, (p?.contributions ?? []).map((c) => el('tr', {}, el('td', { text: c.feature }),
          el('td', { text: fmt1.format(100 * c.share) + ' %' }), el('td', { text: num(c.value) }), el('td', { text: num(c.zScore) }))))),
      el('h2', { text: 'Features' }),
      el('dl', { class: 'fields' }, ...Object.entries(p?.features ?? {}).flatMap(([k, v]) => field(k, num(v)))),
      el('h2', { text: 'Recent alerts' }),
      el('table', {}, el('tbody', {}, u.recentAlerts.map((a) => el('tr', {
        onclick: () => { location.hash = '#/alerts/' + encodeURIComponent(a.alertId); },
      }, el('td', { class: 'time', text: time(a.eventTime) }), el('td', {}, severityBadge(a.severity)), el('td', { text: a.rule }),
        el('td', { text: a.status }), el('td', { class: 'summary', text: a.summary }))))));
  }).catch((e) => box.replaceChildren(el('p', { class: 'empty', text: 'User not found (' + e.message + ').' })));
  return () => {};
}
