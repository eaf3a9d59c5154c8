// The library: buckets, folders (prefix + delimiter listing), search by name prefix within a
// folder, pagination, and uploads with per-file progress and cancel (streaming PUT).

import { $, api, el, enc, humanSize, refresh, setCrumbs, setStatus, show, token } from './core.js';

const PAGE = 100;
let view = { bucket: null, folder: '', cursor: null };

const isPlayable = (type, key) =>
  type.startsWith('video/') || type.startsWith('audio/') || /\.m3u8$/i.test(key);

function row(cells, href, cls) {
  const tr = el('tr', { className: cls || '' });
  cells.forEach((text, i) => {
    const td = el('td', { className: i === 1 ? 'num' : i >= 2 ? 'hide-narrow' : '' });
    td.append(i === 0 && href ? el('a', { href, textContent: text }) : text);
    tr.append(td);
  });
  return tr;
}

function folderCrumbs(bucket, folder) {
  const parts = [[bucket, `#/b/${encodeURIComponent(bucket)}/`]];
  let path = '';
  for (const name of folder.split('/').filter(Boolean)) {
    path += `${name}/`;
    parts.push([name, `#/b/${encodeURIComponent(bucket)}/${enc(path)}`]);
  }
  setCrumbs(parts);
}

export async function showBuckets() {
  show('#library');
  $('#filter').hidden = true;
  $('#dropzone').hidden = true;
  $('#more').hidden = true;
  setCrumbs([]);
  view = { bucket: null, folder: '', cursor: null };
  const tbody = $('#listing tbody');
  tbody.replaceChildren();
  const { buckets } = await api('/api/v1/buckets');
  if (!buckets.length) setStatus('No buckets yet: add folders under the data directory, or pass folders to `reelay serve`.');
  for (const b of buckets) tbody.append(row([`${b.name}/`, '', b.kind, ''], `#/b/${encodeURIComponent(b.name)}/`, 'folder'));
}

export async function showFolder(bucket, folder, append = false) {
  show('#library');
  $('#filter').hidden = false;
  $('#dropzone').hidden = false;
  folderCrumbs(bucket, folder);
  const tbody = $('#listing tbody');
  if (!append) {
    if (view.bucket !== bucket || view.folder !== folder) $('#prefix').value = '';
    tbody.replaceChildren();
    view = { bucket, folder, cursor: null };
  }
  const params = new URLSearchParams({ prefix: folder + $('#prefix').value, delimiter: '/', limit: String(PAGE) });
  if (view.cursor) params.set('cursor', view.cursor);
  const page = await api(`/api/v1/buckets/${encodeURIComponent(bucket)}/objects?${params}`);
  if (!append && folder) {
    const up = folder.split('/').filter(Boolean).slice(0, -1).join('/');
    tbody.append(row(['../', '', '', ''], `#/b/${encodeURIComponent(bucket)}/${enc(up ? `${up}/` : '')}`, 'folder'));
  }
  for (const p of page.prefixes || []) {
    tbody.append(row([p.slice(folder.length), '', 'folder', ''], `#/b/${encodeURIComponent(bucket)}/${enc(p)}`, 'folder'));
  }
  for (const o of page.objects) {
    const name = o.key.slice(folder.length);
    const href = isPlayable(o.content_type, o.key)
      ? `#/play/${encodeURIComponent(bucket)}/${enc(o.key)}`
      : `/media/${encodeURIComponent(bucket)}/${enc(o.key)}`;
    tbody.append(row([name, humanSize(o.size), o.content_type, new Date(o.last_modified).toLocaleString()], href, 'object'));
  }
  view.cursor = page.next_cursor || null;
  $('#more').hidden = !view.cursor;
  const empty = !append && !page.objects.length && !(page.prefixes || []).length;
  setStatus(empty ? 'Nothing here.' : '');
}

// Uploads: one XHR per file (fetch has no upload progress), PUT to the streaming upload API.

function explain(xhr) {
  let message = '';
  try { message = JSON.parse(xhr.responseText).error.message; } catch { /* not JSON */ }
  if (xhr.status === 413) return `too large: ${message}`;
  if (xhr.status === 401 || xhr.status === 403) return `no permission: ${message || 'sign in with a write token'}`;
  return message || `failed (${xhr.status || 'network error'})`;
}

function upload(file, bucket, folder) {
  const bar = el('progress', { max: file.size || 1, value: 0 });
  const text = el('span', { className: 'meta', textContent: `0 / ${humanSize(file.size)} (0%)` });
  const cancel = el('button', { type: 'button', textContent: 'cancel' });
  const item = el('li', { className: 'upload' }, el('span', { className: 'name', textContent: file.name }), bar, text, cancel);
  $('#uploads').append(item);
  const xhr = new XMLHttpRequest();
  xhr.open('PUT', `/api/v1/buckets/${encodeURIComponent(bucket)}/objects/${enc(folder + file.name)}`);
  if (token()) xhr.setRequestHeader('authorization', `Bearer ${token()}`);
  if (file.type) xhr.setRequestHeader('content-type', file.type);
  xhr.upload.onprogress = (e) => {
    bar.value = e.loaded;
    const pct = e.total ? Math.floor((e.loaded / e.total) * 100) : 0;
    text.textContent = `${humanSize(e.loaded)} / ${humanSize(e.total)} (${pct}%)`;
    item.dataset.progressEvents = String(Number(item.dataset.progressEvents || 0) + 1);
  };
  xhr.onload = () => {
    cancel.remove();
    if (xhr.status >= 200 && xhr.status < 300) {
      item.classList.add('done');
      bar.value = bar.max;
      text.textContent = `${humanSize(file.size)} uploaded`;
      if (view.bucket === bucket && view.folder === folder) refresh();
    } else {
      item.classList.add('failed');
      text.textContent = explain(xhr);
    }
  };
  xhr.onerror = () => { item.classList.add('failed'); text.textContent = 'network error'; cancel.remove(); };
  xhr.onabort = () => { item.classList.add('failed'); text.textContent = 'cancelled'; cancel.remove(); };
  cancel.addEventListener('click', () => xhr.abort());
  xhr.send(file);
}

function uploadAll(files) {
  if (!view.bucket) return;
  for (const f of files) upload(f, view.bucket, view.folder);
}

$('#files').addEventListener('change', (e) => { uploadAll(e.target.files); e.target.value = ''; });
const zone = $('#dropzone');
zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
zone.addEventListener('dragleave', () => zone.classList.remove('over'));
zone.addEventListener('drop', (e) => { e.preventDefault(); zone.classList.remove('over'); uploadAll(e.dataTransfer.files); });
$('#filter').addEventListener('submit', (e) => { e.preventDefault(); if (view.bucket) showFolder(view.bucket, view.folder); });
$('#prefix').addEventListener('input', () => { if (view.bucket) showFolder(view.bucket, view.folder); });
$('#more').addEventListener('click', () => showFolder(view.bucket, view.folder, true));
