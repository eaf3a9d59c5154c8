// reelay web UI: the shell — sign-in and routing. Plain ES modules, no framework; hls.js is
// vendored and served by the binary (nothing loads from a CDN).
// Routes (URL fragment): #/ buckets · #/b/BUCKET/FOLDER/ objects · #/play/BUCKET/KEY player ·
// #/live sources · #/live/SOURCE one source · #/rec/ID a recording's replay.

import { $, AuthRequired, TOKEN_KEY, onRefresh, setStatus, show, token } from './core.js';
import { showBuckets, showFolder } from './library.js';
import { showMediaPlayer, showRecordingPlayer, stopPlayback } from './player.js';
import { showSources, showSource, stopRefreshing } from './live.js';

function showSignIn(message) {
  show('#signin');
  $('#signin-message').textContent = message;
}

async function route() {
  const hash = location.hash.slice(1) || '/';
  stopPlayback();
  stopRefreshing();
  setStatus('');
  $('#signout').hidden = !token();
  $('#tab-live').classList.toggle('current', hash.startsWith('/live') || hash.startsWith('/rec/'));
  $('#tab-library').classList.toggle('current', !$('#tab-live').classList.contains('current'));
  try {
    let m;
    if ((m = hash.match(/^\/play\/([^/]+)\/(.+)$/))) await showMediaPlayer(decodeURIComponent(m[1]), m[2].split('/').map(decodeURIComponent).join('/'));
    else if ((m = hash.match(/^\/b\/([^/]+)\/?(.*)$/))) await showFolder(decodeURIComponent(m[1]), m[2].split('/').map(decodeURIComponent).join('/'));
    else if ((m = hash.match(/^\/live\/([^/]+)$/))) await showSource(decodeURIComponent(m[1]));
    else if (hash === '/live') await showSources();
    else if ((m = hash.match(/^\/rec\/([^/]+)$/))) await showRecordingPlayer(decodeURIComponent(m[1]));
    else await showBuckets();
  } catch (err) {
    if (err instanceof AuthRequired) showSignIn(err.message);
    else setStatus(`Error: ${err.message}`);
  }
}
onRefresh(route);

$('#signin').addEventListener('submit', (e) => {
  e.preventDefault();
  localStorage.setItem(TOKEN_KEY, $('#token').value.trim());
  $('#token').value = '';
  route();
});
$('#signout').addEventListener('click', () => { localStorage.removeItem(TOKEN_KEY); route(); });
window.addEventListener('hashchange', route);
route();
