export async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!r.ok) throw new Error(url + ' answered ' + r.status);
  return r.json();
}

// State-changing calls carry the CSRF header the server requires alongside the session cookie.
export async function post(url, body) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Vigil-Csrf': '1' },
    body: JSON.stringify(body ?? {}),
  });
  if (!r.ok) {
    let detail = '';
    try { detail = (await r.json()).detail ?? ''; } catch { /* not JSON */ }
    throw new Error(r.status + (detail ? ': ' + detail : ''));
  }
  return r.json();
}

// One Server-Sent Events connection shared by the pages; listeners subscribe by event name.
const listeners = { alert: new Set(), metrics: new Set(), status: new Set() };
let source = null;

export function subscribe(name, fn) {
  listeners[name].add(fn);
  return () => listeners[name].delete(fn);
}

export function connectStream() {
  if (source) return;
  source = new EventSource('/api/stream');
  source.addEventListener('open', () => listeners.status.forEach((fn) => fn(true)));
  source.addEventListener('error', () => listeners.status.forEach((fn) => fn(false)));
  for (const name of ['alert', 'metrics']) {
    source.addEventListener(name, (e) => {
      const data = JSON.parse(e.data);
      listeners[name].forEach((fn) => fn(data));
    });
  }
}
