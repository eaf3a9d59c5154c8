// Live: sources with their state (edge online/offline, streaming on/off, age of the newest
// segment), streaming toggle, a live preview (hls.js), recordings — start (also "from N
// seconds ago"), stop, replay, delete.

import { $, api, el, playableUrl, refresh, setCrumbs, setStatus, show } from './core.js';
import { attach } from './player.js';

// The page's state is refreshed every few seconds while visible: texts in place, rows only when
// the set changes (so a click never lands on a row being replaced).
const REFRESH_MS = 5000;
let timer = null;
function every(fn) {
  stopRefreshing();
  timer = setInterval(() => { if (!document.hidden) fn().catch(() => {}); }, REFRESH_MS);
}
export function stopRefreshing() { clearInterval(timer); timer = null; }

function age(iso) {
  if (!iso) return 'none yet';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function stateOf(src) {
  if (!src.edge) return 'direct';
  return `edge ${src.edge}: ${src.edge_online ? 'online' : 'offline'}`;
}

function streamingToggle(src) {
  const box = el('input', { type: 'checkbox', checked: src.streaming, className: 'streaming' });
  box.setAttribute('aria-label', `streaming of ${src.name}`);
  box.addEventListener('change', async () => {
    box.disabled = true;
    try {
      await api(`/api/v1/sources/${encodeURIComponent(src.id)}/streaming`, { method: 'PUT', json: { enabled: box.checked } });
    } catch (err) {
      box.checked = !box.checked;
      setStatus(`Error: ${err.message}`);
    }
    box.disabled = false;
  });
  return el('label', { className: 'switch' }, box, ' on');
}

function sourceRow(src) {
  const name = el('a', { href: `#/live/${encodeURIComponent(src.name)}`, textContent: src.name });
  const row = el('tr', { className: 'source' },
    el('td', {}, name),
    el('td', { className: 'state' }),
    el('td', { className: 'age hide-narrow' }),
    el('td', {}, streamingToggle(src)));
  row.dataset.id = src.id;
  updateRow(row, src);
  return row;
}

function updateRow(row, src) {
  const state = row.querySelector('.state');
  state.textContent = stateOf(src);
  state.classList.toggle('offline', Boolean(src.edge && !src.edge_online));
  row.querySelector('.age').textContent = age(src.last_segment_at);
}

export async function showSources() {
  show('#live');
  setCrumbs([['live', '#/live']]);
  const { sources } = await api('/api/v1/sources');
  const tbody = $('#sources tbody');
  tbody.replaceChildren(...sources.map(sourceRow));
  if (!sources.length) setStatus('No live sources yet: create one with POST /api/v1/sources.');
  every(async () => {
    const now = (await api('/api/v1/sources')).sources;
    const rows = [...tbody.children];
    if (now.map((s) => s.id).join() !== rows.map((r) => r.dataset.id).join()) return showSources();
    now.forEach((src, i) => updateRow(rows[i], src));
  });
}

function recordingRow(rec) {
  const replay = el('a', { href: `#/rec/${encodeURIComponent(rec.id)}`, textContent: rec.alias || rec.id });
  const actions = el('td', {});
  if (rec.open) {
    const stop = el('button', { type: 'button', textContent: 'stop', className: 'stop' });
    stop.addEventListener('click', async () => {
      await api(`/api/v1/recordings/${encodeURIComponent(rec.id)}/stop`, { method: 'POST' });
      refresh();
    });
    actions.append(stop);
  }
  const del = el('button', { type: 'button', textContent: 'delete', className: 'delete' });
  del.addEventListener('click', async () => {
    if (!window.confirm(`Delete recording ${rec.alias || rec.id}?`)) return;
    await api(`/api/v1/recordings/${encodeURIComponent(rec.id)}`, { method: 'DELETE' });
    refresh();
  });
  actions.append(' ', del);
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');
  return el('tr', { className: rec.open ? 'recording open' : 'recording' },
    el('td', {}, replay),
    el('td', { className: 'hide-narrow', textContent: when(rec.start) }),
    el('td', { textContent: rec.open ? 'recording…' : when(rec.end) }),
    actions);
}

let current = null;

// One line per rendition: name, resolution, codecs and the bitrate measured at the node.
function renditionItem(r) {
  const kbps = `${Math.round(r.measured_bitrate / 1000)} kb/s`;
  const warn = r.misaligned ? `segments of ${(r.segment_ms / 1000).toFixed(1)} s, out of step with the ladder` : '';
  const parts = [r.name, r.media ? 'audio' : r.resolution, r.codecs, kbps, warn].filter(Boolean);
  return el('li', { className: r.misaligned ? 'rendition misaligned' : 'rendition', textContent: parts.join(' · ') });
}

export async function showSource(name) {
  show('#source');
  const src = await api(`/api/v1/sources/${encodeURIComponent(name)}`);
  current = src;
  setCrumbs([['live', '#/live'], [src.name, location.hash]]);
  $('#source-title').textContent = src.name;
  const info = el('span', { textContent: `${stateOf(src)} · newest segment ${age(src.last_segment_at)}` });
  $('#source-state').replaceChildren(info, ' · streaming ', streamingToggle(src));
  const renditions = src.renditions || [];
  $('#source-renditions').replaceChildren(...(renditions.length > 1 ? renditions.map(renditionItem) : []));
  if (src.last_segment_at) {
    attach($('#preview-slot'), await playableUrl(`/live/${encodeURIComponent(src.name)}/index.m3u8`, { prefix: true }), { live: true, id: 'preview' });
  } else {
    $('#preview-slot').replaceChildren(el('p', { className: 'meta', textContent: 'Nothing received yet: push HLS to ' + src.ingest_url + '/index.m3u8' }));
  }
  let shown = '';
  const showRecordings = async () => {
    const { recordings } = await api(`/api/v1/recordings?source=${encodeURIComponent(src.id)}`);
    const json = JSON.stringify(recordings);
    if (json !== shown) $('#recordings tbody').replaceChildren(...recordings.slice().reverse().map(recordingRow));
    shown = json;
  };
  await showRecordings();
  every(async () => {
    const now = await api(`/api/v1/sources/${encodeURIComponent(src.id)}`);
    info.textContent = `${stateOf(now)} · newest segment ${age(now.last_segment_at)}`;
    await showRecordings();
  });
}

$('#record').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!current) return;
  const ago = Math.max(0, Number($('#record-ago').value) || 0);
  const body = { alias: $('#record-alias').value.trim() };
  if (ago) body.start = Math.floor(Date.now() / 1000) - ago;
  try {
    await api(`/api/v1/sources/${encodeURIComponent(current.id)}/recordings`, { method: 'POST', json: body });
    $('#record-alias').value = '';
    refresh();
  } catch (err) {
    setStatus(`Error: ${err.message}`);
  }
});
