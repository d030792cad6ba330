import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { el } from './dom.js';
import { getJson, post, subscribe, connectStream } from './api.js';
import { renderOverview } from './overview.js';
import { renderAlerts, renderAlertDetail } from './alerts.js';
import { renderPipeline } from './pipeline.js';
import { renderSegments, renderModels, renderUser } from './ml.js';

let me = { canWrite: false, authenticated: false };
let cleanup = () => {};

async function loadMe() {
  try { me = await getJson('/api/me'); } catch { me = { canWrite: false, authenticated: false }; }
  document.getElementById('who').textContent = me.authenticated ? me.name + ' · ' + me.role : 'viewer (anonymous)';
  document.getElementById('signin').hidden = !!me.authenticated;
  document.getElementById('gen').hidden = !me.canWrite;
}

function route() {
  cleanup();
  const view = document.getElementById('view');
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query ?? '');
  const parts = path.split('/').filter(Boolean);
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.route === (parts[0] ?? ''));
  if (parts[0] === 'alerts' && parts[1]) cleanup = renderAlertDetail(view, me, decodeURIComponent(parts[1]));
  else if (parts[0] === 'alerts') cleanup = renderAlerts(view, me, params);
  else if (parts[0] === 'pipeline') cleanup = renderPipeline(view, me);
  else if (parts[0] === 'segments') cleanup = renderSegments(view, me);
  else if (parts[0] === 'models') cleanup = renderModels(view, me);
  else if (parts[0] === 'users' && parts[1]) cleanup = renderUser(view, me, decodeURIComponent(parts[1]));
  else cleanup = renderOverview(view, me, (id) => { location.hash = '#/alerts/' + encodeURIComponent(id); });
}

document.getElementById('gen').addEventListener('click', async (e) => {
  e.target.disabled = true;
  try { await post('/api/generate-test-data', { attack: 'BRUTE_FORCE' }); } catch { /* shown by the missing alert */ }
  setTimeout(() => { e.target.disabled = false; }, 1500);
});
subscribe('status', (ok) => {
  document.getElementById('health-dot').className = 'dot ' + (ok ? 'ok' : 'bad');
  document.getElementById('health-text').textContent = ok ? 'live' : 'reconnecting…';
});
window.addEventListener('hashchange', route);
loadMe().then(() => { connectStream(); route(); });
