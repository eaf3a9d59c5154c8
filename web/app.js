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

// Tokens are kept in this browser only; a <video src> cannot send headers, so playback uses
// signed URLs from /api/v1/sign.
const TOKEN_KEY = 'reelay.token';
const token = () => localStorage.getItem(TOKEN_KEY);

class AuthRequired extends Error {}

async function api(path, options = {}) {
  const headers = { accept: 'application/json', ...(options.headers || {}) };
  if (token()) headers.authorization = `Bearer ${token()}`;
  const res = await fetch(path, { ...options, headers });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) throw new AuthRequired(body.error?.message || 'sign in required');
  if (!res.ok) throw new Error(body.error?.message || `${res.status} ${res.statusText}`);
  return body;
}

async function playableUrl(path) {
  try {
    const signed = await api('/api/v1/sign', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path, expires_in: 6 * 3600 }),
    });
    return signed.url;
  } catch (err) {
    if (err instanceof AuthRequired) throw err;
    return path; // public bucket, or signing not allowed: try the plain URL
  }
}

function showSignIn(message) {
  $('#signin').hidden = false;
  $('#signin-message').textContent = message;
  $('#browser').hidden = true;
  $('#player').hidden = true;
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

async function showPlayer(bucket, key) {
  const path = `/media/${encodeURIComponent(bucket)}/${enc(key)}`;
  const src = await playableUrl(path);
  setCrumbs([[bucket, `#/b/${encodeURIComponent(bucket)}`], [key, location.hash]]);
  $('#player').hidden = false;
  $('#player-title').textContent = key;
  $('#player-link').href = src;
  $('#player-link').textContent = src === path ? 'direct link' : 'signed link (6 h)';
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
  $('#signin').hidden = true;
  $('#browser').hidden = false;
  $('#signout').hidden = !token();
  try {
    let m;
    if ((m = hash.match(/^\/play\/([^/]+)\/(.+)$/))) {
      if (listing.bucket !== m[1]) await showObjects(m[1]);
      await showPlayer(m[1], m[2]);
    } else if ((m = hash.match(/^\/b\/([^/]+)\/?$/))) {
      await showObjects(m[1]);
    } else {
      await showBuckets();
    }
  } catch (err) {
    if (err instanceof AuthRequired) showSignIn(err.message);
    else $('#status').textContent = `Error: ${err.message}`;
  }
}

$('#signin').addEventListener('submit', (e) => {
  e.preventDefault();
  localStorage.setItem(TOKEN_KEY, $('#token').value.trim());
  $('#token').value = '';
  route();
});
$('#signout').addEventListener('click', () => {
  localStorage.removeItem(TOKEN_KEY);
  route();
});

$('#filter').addEventListener('submit', (e) => { e.preventDefault(); if (listing.bucket) showObjects(listing.bucket); });
$('#prefix').addEventListener('input', () => { if (listing.bucket) showObjects(listing.bucket); });
$('#more').addEventListener('click', () => showObjects(listing.bucket, true));
window.addEventListener('hashchange', route);
route();
