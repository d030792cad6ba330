// Builds DOM nodes from data. Text always goes in through textContent, never as HTML: user names,
// user agents and summaries are attacker-controlled.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const fmt = new Intl.NumberFormat('en-US');
export const fmt1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function severityBadge(severity) {
  const known = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].includes(severity);
  return el('span', { class: 'sev ' + (known ? severity : ''), text: severity });
}
