// reelay web UI: buckets, objects, and an HTML5 player. Plain ES module, no framework, no CDN.
// Routes (in the URL fragment): #/ buckets; #/b/BUCKET objects; #/play/BUCKET/KEY player.

const $ = (sel) => document.querySelector(sel);
const enc = (key) => key.split('/').map(encodeURIComponent).join('/');

function humanSize(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

async function api(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error?.message || `${res.status} ${res.statusText}`);
  return body;
}

function row(cells, href) {
  const tr = document.createElement('tr');
  cells.forEach((text, i) => {
    const td = document.createElement('td');
    if (i === 0 && href) {
      const a = document.createElement('a');
      a.href = href;
      a.textContent = text;
      td.append(a);
    } else {
      td.textContent = text;
    }
    if (i === 1) td.className = 'num';
    if (i >= 2) td.classList.add('hide-narrow');
    tr.append(td);
  });
  return tr;
}

function setCrumbs(parts) {
  const nav = $('#crumbs');
  nav.replaceChildren();
  for (const [label, href] of parts) {
    const a = document.createElement('a');
    a.textContent = label;
    a.href = href;
    nav.append(' / ', a);
  }
}

const isPlayable = (type) => type.startsWith('video/') || type.startsWith('audio/');

let listing = { bucket: null, cursor: null };

async function showBuckets() {
  $('#player').hidden = true;
  $('#filter').hidden = true;
  $('#more').hidden = true;
  setCrumbs([]);
  const tbody = $('#listing tbody');
  tbody.replaceChildren();
  const { buckets } = await api('/api/v1/buckets');
  $('#status').textContent = buckets.length ? '' : 'No buckets yet: add folders under the data directory, or pass folders to `reelay serve`.';
  for (const b of buckets) tbody.append(row([b.name + '/', '', b.kind, ''], `#/b/${encodeURIComponent(b.name)}`));
}

async function showObjects(bucket, append = false) {
  $('#player').hidden = true;
  $('#filter').hidden = false;
  setCrumbs([[bucket, `#/b/${encodeURIComponent(bucket)}`]]);
  const tbody = $('#listing tbody');
  if (!append) { tbody.replaceChildren(); listing = { bucket, cursor: null }; }
  const params = new URLSearchParams({ prefix: $('#prefix').value, limit: '200' });
  if (listing.cursor) params.set('cursor', listing.cursor);
  const page = await api(`/api/v1/buckets/${encodeURIComponent(bucket)}/objects?${params}`);
  for (const o of page.objects) {
    const href = isPlayable(o.content_type) ? `#/play/${encodeURIComponent(bucket)}/${enc(o.key)}` : `/media/${encodeURIComponent(bucket)}/${enc(o.key)}`;
    tbody.append(row([o.key, humanSize(o.size), o.content_type, new Date(o.last_modified).toLocaleString()], href));
  }
  listing.cursor = page.next_cursor || null;
  $('#more').hidden = !listing.cursor;
  $('#status').textContent = tbody.children.length ? '' : 'Nothing here.';
}

function showPlayer(bucket, key) {
  const src = `/media/${encodeURIComponent(bucket)}/${enc(key)}`;
  setCrumbs([[bucket, `#/b/${encodeURIComponent(bucket)}`], [key, location.hash]]);
  $('#player').hidden = false;
  $('#player-title').textContent = key;
  $('#player-link').href = src;
  const audio = /\.(mp3|m4a|aac|ogg|oga|opus|flac|wav)$/i.test(key);
  const el = document.createElement(audio ? 'audio' : 'video');
  el.id = 'media';
  el.controls = true;
  el.preload = 'metadata';
  el.src = src;
  $('#player-slot').replaceChildren(el);
}

async function route() {
  const hash = decodeURIComponent(location.hash.slice(1) || '/');
  try {
    let m;
    if ((m = hash.match(/^\/play\/([^/]+)\/(.+)$/))) {
      if (listing.bucket !== m[1]) await showObjects(m[1]);
      showPlayer(m[1], m[2]);
    } else if ((m = hash.match(/^\/b\/([^/]+)\/?$/))) {
      await showObjects(m[1]);
    } else {
      await showBuckets();
    }
  } catch (err) {
    $('#status').textContent = `Error: ${err.message}`;
  }
}

$('#filter').addEventListener('submit', (e) => { e.preventDefault(); if (listing.bucket) showObjects(listing.bucket); });
$('#prefix').addEventListener('input', () => { if (listing.bucket) showObjects(listing.bucket); });
$('#more').addEventListener('click', () => showObjects(listing.bucket, true));
window.addEventListener('hashchange', route);
route();
