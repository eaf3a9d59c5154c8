// Shared by the UI's modules: DOM helpers, API calls with the stored token, signed playback URLs.

export const $ = (sel) => document.querySelector(sel);
export const enc = (key) => key.split('/').map(encodeURIComponent).join('/');

// Tokens stay in this browser; players cannot send headers, so playback uses signed URLs.
export const TOKEN_KEY = 'reelay.token';
export const token = () => localStorage.getItem(TOKEN_KEY);

export class AuthRequired extends Error {}

export async function api(path, options = {}) {
  const headers = { accept: 'application/json', ...(options.headers || {}) };
  if (token()) headers.authorization = `Bearer ${token()}`;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    options = { ...options, body: JSON.stringify(options.json) };
  }
  const res = await fetch(path, { ...options, headers });
  const body = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (res.status === 401) throw new AuthRequired(body.error?.message || 'sign in required');
  if (!res.ok) throw new Error(body.error?.message || `${res.status} ${res.statusText}`);
  return body;
}

// A URL that plays without headers: signed when this node has tokens. `prefix` signs a folder
// (a live source, a recording) so every playlist URI carries the signature.
export async function playableUrl(path, { prefix = false, seconds = 6 * 3600 } = {}) {
  const signPath = prefix ? path.slice(0, path.lastIndexOf('/') + 1) : path;
  try {
    const signed = await api('/api/v1/sign', { method: 'POST', json: { path: signPath, expires_in: seconds, prefix } });
    if (!prefix) return signed.url;
    const query = signed.url.slice(signed.url.indexOf('?'));
    return path + query;
  } catch (err) {
    if (err instanceof AuthRequired) throw err;
    return path; // public bucket, or signing not allowed: try the plain URL
  }
}

export function humanSize(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function setStatus(text) { $('#status').textContent = text; }

export function setCrumbs(parts) {
  const nav = $('#crumbs');
  nav.replaceChildren();
  for (const [label, href] of parts) nav.append(' / ', el('a', { href, textContent: label }));
}

const SECTIONS = ['#signin', '#player', '#library', '#live', '#source'];
export function show(...visible) {
  for (const s of SECTIONS) $(s).hidden = !visible.includes(s);
}

// The router's re-render, set by app.js (modules call it after a change).
export let refresh = () => {};
export function onRefresh(f) { refresh = f; }
