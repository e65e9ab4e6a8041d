// Opens a page in headless Chromium through the DevTools protocol (no npm package: Node's own
// fetch and WebSocket) and prints what a person would see as JSON: every <img> with its natural
// size, every <video> with its duration, whether the browser plays H.264, and every error the
// page logged, and each slide viewer with the tiles it drew. Saves a screenshot of the top of
// the page.
//
//   node --experimental-websocket tests/browser/check_page.mjs PAGE.html SHOT.png [CHROMIUM]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [page, shot, chromium = '/usr/bin/chromium'] = process.argv.slice(2);
if (typeof WebSocket === 'undefined') {
  throw new Error(`Node ${process.version} has no WebSocket: Node 20.10 or newer is needed`);
}
const profile = mkdtempSync(join(tmpdir(), 'dicomprep-chromium-'));
const browser = spawn(chromium, [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--mute-audio', `--user-data-dir=${profile}`, '--remote-debugging-port=0',
  '--window-size=1280,1600', 'about:blank',
], { stdio: ['ignore', 'ignore', 'pipe'] });
let browserLog = '';
browser.stderr.on('data', (d) => { browserLog += d; });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (message) => { throw new Error(`${message}\nchromium said:\n${browserLog}`); };

async function main() {
  const portFile = join(profile, 'DevToolsActivePort');
  for (let i = 0; i < 300 && !existsSync(portFile); i++) await sleep(100);
  if (!existsSync(portFile)) fail('chromium did not open its DevTools port');
  const port = readFileSync(portFile, 'utf8').split('\n')[0];
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = targets.find((t) => t.type === 'page') ?? fail('no page target');
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((ok, ko) => { ws.onopen = ok; ws.onerror = ko; });
  let next = 0;
  const pending = new Map();
  const events = [];
  const errors = [];
  ws.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.id !== undefined) {
      const { ok, ko } = pending.get(data.id);
      pending.delete(data.id);
      data.error ? ko(new Error(JSON.stringify(data.error))) : ok(data.result);
      return;
    }
    events.push(data.method);
    const p = data.params;
    if (data.method === 'Runtime.consoleAPICalled' && ['error', 'assert'].includes(p.type)) {
      errors.push(`console.${p.type}: ${p.args.map((a) => a.value ?? a.description).join(' ')}`);
    } else if (data.method === 'Runtime.exceptionThrown') {
      errors.push(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`);
    } else if (data.method === 'Log.entryAdded' && p.entry.level === 'error') {
      errors.push(`log: ${p.entry.text} ${p.entry.url ?? ''}`);
    }
  };
  const send = (method, params = {}) => new Promise((ok, ko) => {
    const id = ++next;
    pending.set(id, { ok, ko });
    ws.send(JSON.stringify({ id, method, params }));
  });
  await send('Runtime.enable');
  await send('Log.enable');
  await send('Page.enable');
  await send('Emulation.setDeviceMetricsOverride',
    { width: 1280, height: 1600, deviceScaleFactor: 1, mobile: false });
  const loaded = events.length;
  await send('Page.navigate', { url: pathToFileURL(resolve(page)).href });
  for (let i = 0; i < 600 && !events.slice(loaded).includes('Page.loadEventFired'); i++) await sleep(50);
  // Lazy images load as they near the viewport: walk the page down to the end, waiting for
  // each image and each video's metadata, then back to the top for the screenshot.
  const check = `(async () => {
    const wait = (el, ok, ko) => new Promise((r) => {
      const t = setTimeout(r, 15000); el.addEventListener(ok, () => { clearTimeout(t); r(); }, { once: true });
      el.addEventListener(ko, () => { clearTimeout(t); r(); }, { once: true }); });
    for (const img of document.images) {
      img.scrollIntoView();
      if (!img.complete) await wait(img, 'load', 'error');
    }
    const videos = [...document.querySelectorAll('video')];
    for (const v of videos) {
      v.scrollIntoView();
      if (v.readyState < 1 && !v.error) await wait(v, 'loadedmetadata', 'error');
    }
    // Slide viewers (OpenSeadragon): wait for their first tiles to be drawn.
    const viewers = [...document.querySelectorAll('.viewer')];
    for (const v of viewers) {
      v.scrollIntoView();
      for (let i = 0; i < 100 && Number(v.dataset.tiles) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    }
    window.scrollTo(0, 0);
    const probe = document.createElement('video');
    return JSON.stringify({
      h264: probe.canPlayType('video/mp4; codecs="avc1.42E01E"'),
      images: [...document.images].map((i) => ({ src: i.getAttribute('src'), naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight })),
      videos: videos.map((v) => ({ src: v.getAttribute('src'), duration: v.duration, expected: Number(v.dataset.duration), error: v.error ? v.error.code : null, readyState: v.readyState })),
      svgs: document.querySelectorAll('svg').length,
      viewers: viewers.map((v) => ({ dzi: v.dataset.dzi, tiles: Number(v.dataset.tiles), canvases: v.querySelectorAll('canvas').length })),
      title: document.title,
    });
  })()`;
  const result = await send('Runtime.evaluate', { expression: check, awaitPromise: true, returnByValue: true });
  if (result.exceptionDetails) fail(`check failed: ${JSON.stringify(result.exceptionDetails)}`);
  await sleep(300);
  const picture = await send('Page.captureScreenshot', { format: 'png' });
  writeFileSync(shot, Buffer.from(picture.data, 'base64'));
  const report = JSON.parse(result.result.value);
  report.errors = errors;
  console.log(JSON.stringify(report));
  ws.close();
}

try {
  await main();
} finally {
  browser.kill();
  await new Promise((r) => { browser.once('exit', r); setTimeout(r, 3000); });
  try {
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  } catch {
    // Chromium may still be flushing its profile; a temporary directory is left behind.
  }
}
