// The player: <video>/<audio> for progressive media (the browser seeks with Range requests),
// hls.js for HLS playlists (native HLS only without MSE); a "copy signed link" button.

import { $, api, el, enc, playableUrl, setCrumbs, show } from './core.js';

let hls = null;
let shareUrl = null;

export function stopPlayback() {
  if (hls) { hls.destroy(); hls = null; }
  for (const m of document.querySelectorAll('video, audio')) { m.pause(); m.removeAttribute('src'); m.load(); }
  $('#player-slot').replaceChildren();
  $('#preview-slot').replaceChildren();
}

// A media element playing `src` in `slot`; `.m3u8` goes through hls.js unless native.
export function attach(slot, src, { audio = false, live = false, id = 'media' } = {}) {
  const media = el(audio ? 'audio' : 'video', { id, controls: true, preload: 'metadata', playsInline: true });
  media.muted = live; // a muted live preview may autoplay
  slot.replaceChildren(media);
  const isHls = /\.m3u8(\?|$)/i.test(src);
  // hls.js wherever Media Source Extensions exist (the same behaviour in every browser); native
  // HLS only where they do not.
  if (isHls && window.Hls?.isSupported()) {
    media.dataset.engine = 'hls.js';
    hls = new window.Hls({ liveSyncDurationCount: 3 });
    hls.loadSource(src);
    hls.attachMedia(media);
    // How many renditions hls.js may switch between (a multivariant playlist lists several).
    hls.on(window.Hls.Events.MANIFEST_PARSED, (_, data) => { media.dataset.levels = String(data.levels.length); });
    hls.on(window.Hls.Events.ERROR, (_, data) => {
      if (data.fatal) slot.append(el('p', { className: 'meta', textContent: `playback error: ${data.details}` }));
    });
  } else {
    media.src = src;
  }
  if (live) media.play().catch(() => {});
  return media;
}

function setShare(url) {
  shareUrl = url;
  $('#copy-status').textContent = '';
}

export async function showMediaPlayer(bucket, key) {
  show('#player');
  const path = `/media/${encodeURIComponent(bucket)}/${enc(key)}`;
  const hlsPlaylist = /\.m3u8$/i.test(key);
  const src = await playableUrl(path, { prefix: hlsPlaylist });
  const folder = key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : '';
  setCrumbs([[bucket, `#/b/${encodeURIComponent(bucket)}/${enc(folder)}`], [key.slice(folder.length), location.hash]]);
  $('#player-title').textContent = key;
  attach($('#player-slot'), src, { audio: /\.(mp3|m4a|aac|ogg|oga|opus|flac|wav)$/i.test(key) });
  setShare(path);
}

export async function showRecordingPlayer(id) {
  show('#player');
  const rec = await api(`/api/v1/recordings/${encodeURIComponent(id)}`);
  const path = `/recordings/${encodeURIComponent(id)}/index.m3u8`;
  setCrumbs([['live', '#/live'], [rec.alias || rec.id, location.hash]]);
  $('#player-title').textContent = `${rec.alias || rec.id} — ${rec.open ? 'recording…' : 'recorded'}`;
  attach($('#player-slot'), await playableUrl(path, { prefix: true }));
  setShare(path);
}

// The link to share: signed for a week (the longest a signature may last); a folder signature
// for playlists so their segments play too.
$('#copy-link').addEventListener('click', async () => {
  if (!shareUrl) return;
  const status = $('#copy-status');
  try {
    const url = await playableUrl(shareUrl, { prefix: /\.m3u8$/.test(shareUrl), seconds: 7 * 24 * 3600 });
    const absolute = new URL(url, location.origin).href;
    status.dataset.url = absolute;
    try {
      await navigator.clipboard.writeText(absolute);
      status.textContent = 'copied — valid for 7 days';
    } catch {
      status.replaceChildren(el('input', { value: absolute, readOnly: true, className: 'share' }));
    }
  } catch (err) {
    status.textContent = `cannot sign: ${err.message}`;
  }
});
