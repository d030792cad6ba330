import { el, time, severityBadge } from './dom.js';
import { getJson, post } from './api.js';

const PAGE = 50;

export function renderAlerts(view, me, params) {
  const state = {
    severity: params.get('severity') ?? '', rule: params.get('rule') ?? '', status: params.get('status') ?? '',
    user: params.get('user') ?? '', ip: params.get('ip') ?? '', offset: Number(params.get('offset') ?? 0) || 0,
  };
  const select = (name, options) => el('select', { name, onchange: (e) => { state[name] = e.target.value; state.offset = 0; load(); } },
    options.map((o) => el('option', { value: o, text: o || 'all', selected: state[name] === o })));
  const input = (name, placeholder) => el('input', {
    name, placeholder, value: state[name], maxlength: 128,
    onchange: (e) => { state[name] = e.target.value.trim(); state.offset = 0; load(); },
  });
  const body = el('tbody', { id: 'alerts' });
  const pager = el('div', { class: 'pager' });
  view.replaceChildren(el('section', { class: 'panel' },
    el('div', { class: 'panel-head' }, el('h1', { text: 'Alerts' }),
      el('div', { class: 'controls filters' },
        el('label', {}, 'Severity ', select('severity', ['', 'CRITICAL', 'HIGH', 'MEDIUM', 'LOW'])),
        el('label', {}, 'Rule ', select('rule', ['', 'BRUTE_FORCE', 'BRUTE_FORCE_IP', 'PASSWORD_SPRAY', 'CREDENTIAL_STUFFING',
          'ACCOUNT_TAKEOVER', 'IMPOSSIBLE_TRAVEL', 'NEW_COUNTRY', 'RAPID_ACTIVITY', 'BEHAVIOR_ANOMALY'])),
        el('label', {}, 'Status ', select('status', ['', 'OPEN', 'ACKNOWLEDGED', 'RESOLVED', 'FALSE_POSITIVE'])),
        input('user', 'user id'), input('ip', 'IP address'))),
    el('table', {}, el('thead', {}, el('tr', {}, ['Event time', 'Severity', 'Rule', 'User', 'IP', 'Status', 'Summary'].map((h) => el('th', { text: h })))), body),
    pager));

  async function load() {
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset) });
    for (const k of ['severity', 'rule', 'status', 'user', 'ip']) if (state[k]) q.set(k, state[k]);
    let page;
    try { page = await getJson('/api/alerts?' + q); } catch (e) {
      body.replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'empty', text: 'Could not load alerts: ' + e.message })));
      return;
    }
    body.replaceChildren(...(page.items.length === 0
      ? [el('tr', {}, el('td', { colspan: 7, class: 'empty', text: 'No alerts match.' }))]
      : page.items.map((a) => el('tr', { dataset: { alertId: a.alertId }, onclick: () => { location.hash = '#/alerts/' + encodeURIComponent(a.alertId); } },
        el('td', { class: 'time', text: time(a.eventTime) }), el('td', {}, severityBadge(a.severity)), el('td', { text: a.rule }),
        el('td', { text: a.userId ?? '–' }), el('td', { class: 'ip', text: a.ipAddress ?? '–' }), el('td', { text: a.status }),
        el('td', { class: 'summary', text: a.summary })))));
    pager.replaceChildren(
      el('button', { type: 'button', disabled: state.offset === 0, onclick: () => { state.offset = Math.max(0, state.offset - PAGE); load(); }, text: '← Newer' }),
      el('span', { class: 'muted', text: `${state.offset + 1}–${state.offset + page.items.length}` }),
      el('button', { type: 'button', disabled: page.items.length < PAGE, onclick: () => { state.offset += PAGE; load(); }, text: 'Older →' }));
  }
  load();
  const timer = setInterval(load, 5000);
  return () => clearInterval(timer);
}

export function renderAlertDetail(view, me, id) {
  const box = el('section', { class: 'panel detail', id: 'detail' });
  view.replaceChildren(el('p', {}, el('a', { href: '#/alerts', text: '← All alerts' })), box);

  function show(a) {
    const field = (name, value) => [el('dt', { text: name }), el('dd', { text: value ?? '–' })];
    const open = a.status === 'OPEN', acked = a.status === 'ACKNOWLEDGED';
    const note = el('input', { id: 'd-note', placeholder: 'note (optional)', maxlength: 2000 });
    const message = el('span', { class: 'muted', id: 'd-message' });
    const action = (label, verb, visible) => visible && me.canWrite
      ? el('button', { type: 'button', class: 'wf', id: 'd-' + verb, text: label, onclick: async () => {
        try { show(await post('/api/alerts/' + encodeURIComponent(a.alertId) + '/' + verb, { note: note.value || null })); } catch (e) {
          message.textContent = 'Could not ' + label.toLowerCase() + ': ' + e.message;
        }
      } })
      : null;
    const events = Array.isArray(a.evidence?.eventIds) ? a.evidence.eventIds : [];
    const timeline = [
      ['Window start', a.windowStart], ['Triggering event', a.eventTime], ['Window end', a.windowEnd],
      ['Detected', a.detectedAt], a.statusAt ? [a.status + ' by ' + a.statusBy, a.statusAt] : null,
    ].filter((x) => x && x[1]).sort((x, y) => new Date(x[1]) - new Date(y[1]));
    box.replaceChildren(
      el('div', { class: 'panel-head' },
        el('h1', { id: 'd-title' }, severityBadge(a.severity), ' ', a.rule, ' · ', el('span', { id: 'd-status', text: a.status })),
        el('div', { class: 'controls' }, me.canWrite && (open || acked) ? note : null,
          action('Acknowledge', 'acknowledge', open), action('Resolve', 'resolve', open || acked),
          action('False positive', 'false-positive', open || acked))),
      message,
      el('dl', { class: 'fields' },
        field('Summary', a.summary),
        [el('dt', { text: 'User' }), el('dd', {}, a.userId ? el('a', { href: '#/users/' + encodeURIComponent(a.userId), id: 'd-user', text: a.userId }) : '–')], field('IP address', a.ipAddress), field('Score', a.score),
        field('Status', a.status + (a.statusBy ? ' by ' + a.statusBy + ' at ' + time(a.statusAt) : '')),
        a.statusNote ? field('Note', a.statusNote) : [], field('Alert id', a.alertId)),
      el('h2', { text: 'Timeline' }),
      el('ol', { class: 'timeline' }, timeline.map(([what, when]) => el('li', {}, el('span', { class: 'time', text: time(when) }), ' ', what))),
      el('h2', { text: `Evidence (${events.length} events)` }),
      el('pre', { class: 'evidence', id: 'd-evidence', text: JSON.stringify(a.evidence, null, 2) }));
  }
  getJson('/api/alerts/' + encodeURIComponent(id)).then(show)
    .catch((e) => box.replaceChildren(el('p', { class: 'empty', text: 'Alert not found (' + e.message + ').' })));
  return () => {};
}
