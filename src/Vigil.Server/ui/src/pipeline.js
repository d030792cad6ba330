import { el, fmt, fmt1, time } from './dom.js';
import { getJson } from './api.js';

export function renderPipeline(view) {
  const summary = el('dl', { class: 'fields', id: 'p-summary' });
  const queues = el('tbody', { id: 'p-queues' });
  const partitions = el('tbody', { id: 'p-partitions' });
  view.replaceChildren(
    el('section', { class: 'panel' }, el('div', { class: 'panel-head' }, el('h1', { text: 'Pipeline' })), summary),
    el('section', { class: 'panel' }, el('div', { class: 'panel-head' }, el('h1', { text: 'Queues (back-pressure)' })),
      el('table', {}, el('thead', {}, el('tr', {}, ['Queue', 'Depth', 'Capacity', 'Fill'].map((h) => el('th', { text: h })))), queues)),
    el('section', { class: 'panel' }, el('div', { class: 'panel-head' }, el('h1', { text: 'Partitions owned by this instance' })),
      el('table', {}, el('thead', {}, el('tr', {}, ['Topic', 'Partition', 'Last offset', 'Checkpointed', 'Lag', 'Watermark', 'Events',
        'Late', 'Dead letters', 'Keys', 'State', 'Checkpoint'].map((h) => el('th', { text: h })))), partitions)));

  async function load() {
    let p;
    try { p = await getJson('/api/pipeline'); } catch (e) {
      summary.replaceChildren(el('dd', { text: 'Could not load: ' + e.message }));
      return;
    }
    const field = (name, value) => [el('dt', { text: name }), el('dd', { text: value ?? '–' })];
    summary.replaceChildren(
      ...field('Consumer group', p.consumerGroup), ...field('Kafka', p.bootstrap + (p.embeddedBroker ? ' (embedded)' : '')),
      ...field('Checkpoint interval', p.checkpointInterval), ...field('Checkpoints', fmt.format(p.checkpoints) +
        (p.checkpointFailures ? ` (${p.checkpointFailures} failed)` : '')),
      ...field('Last checkpoint', p.lastCheckpointAt ? time(p.lastCheckpointAt) + ` · ${fmt1.format(p.lastCheckpointMs)} ms · ${fmt.format(p.lastCheckpointBytes)} bytes` : 'none yet'));
    queues.replaceChildren(...p.queues.map((q) => el('tr', {}, el('td', { text: q.name }), el('td', { text: fmt.format(q.depth) }),
      el('td', { text: fmt.format(q.capacity) }), el('td', { text: fmt1.format((100 * q.depth) / q.capacity) + ' %' }))));
    partitions.replaceChildren(...(p.partitions.length === 0
      ? [el('tr', {}, el('td', { colspan: 12, class: 'empty', text: 'No partition has delivered a record yet.' }))]
      : p.partitions.map((x) => el('tr', {}, el('td', { text: x.topic }), el('td', { text: x.partition }),
        el('td', { text: fmt.format(x.lastOffset) }), el('td', { text: fmt.format(x.checkpointedOffset) }), el('td', { text: fmt.format(x.lag) }),
        el('td', { class: 'time', text: time(x.watermark) }), el('td', { text: fmt.format(x.events) }), el('td', { text: fmt.format(x.lateEvents) }),
        el('td', { text: fmt.format(x.deadLetters) }), el('td', { text: fmt.format(x.trackedKeys) }),
        el('td', { text: fmt.format(Math.round(x.stateBytes / 1024)) + ' KiB' }),
        el('td', { text: x.lastCheckpointId ? `#${x.lastCheckpointId} · ${fmt.format(x.lastCheckpointBytes)} B · ${fmt1.format(x.lastCheckpointMs)} ms` : '–' })))));
  }
  load();
  const timer = setInterval(load, 2000);
  return () => clearInterval(timer);
}
