// The upload demo page, on Uppy (served from this origin: /_dev/page/vendor/): the Dashboard
// takes files by picking, drag and drop or paste, shows each file's progress and the total, and
// has pause, resume, retry and cancel; @uppy/aws-s3 sends them with the hooks in grants.js;
// Golden Retriever keeps the files (IndexedDB) and each upload's id and key (localStorage), so
// that after a reload the upload resumes from the parts already stored. Finished files are
// listed below with a responsive image (the srcset the server hands out) or a link.

import { AwsS3, Dashboard, GoldenRetriever, Uppy } from '/_dev/page/vendor/uppy.min.mjs';
import { createTransport } from './grants.js';
import { bytes, duration, explain, typeList } from './messages.js';

const DEMO = '/_dev/upload-urls';
const STORE = 'edgewise-demo-uploads';
// Matches the layout in app.css: cards are 384px wide from 640px up, else the page width.
const SIZES = '(min-width: 640px) 384px, calc(100vw - 2rem)';

const $ = (sel) => document.querySelector(sel);
const list = $('#uploads');
const template = $('#item');

function saved() {
  try {
    const items = JSON.parse(localStorage.getItem(STORE) ?? '[]');
    return Array.isArray(items) ? items : [];
  } catch {
    return [];
  }
}

function remember(item) {
  const items = saved().filter((i) => i.key !== item.key);
  items.unshift(item);
  localStorage.setItem(STORE, JSON.stringify(items.slice(0, 50)));
}

function refreshEmpty() {
  const empty = list.children.length === 0;
  $('#empty').hidden = !empty;
  $('#clear').hidden = empty;
}

/** The list row of a file (one per Uppy file id, or per stored key for earlier uploads). */
function rowFor(id, name, size, type) {
  let li = list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
  if (!li) {
    li = template.content.firstElementChild.cloneNode(true);
    li.dataset.id = id;
    list.prepend(li);
  }
  li.querySelector('.name').textContent = name;
  li.querySelector('.meta').textContent = `${bytes(size)} · ${type || 'unknown type'}`;
  refreshEmpty();
  return li;
}

function setStatus(li, state, text) {
  li.dataset.state = state;
  const status = li.querySelector('.status');
  status.textContent = text;
  status.className = `status ${state}`;
  if (state === 'error') status.setAttribute('role', 'alert');
  else status.removeAttribute('role');
}

/** The uploaded file: a responsive image for images, else a link. */
function showResult(li, item) {
  const media = li.querySelector('.media');
  media.replaceChildren();
  li.querySelector('.open')?.remove();
  const link = document.createElement('a');
  link.href = item.url;
  link.className = 'open';
  link.textContent = 'Open file';
  link.rel = 'noopener';
  if (item.contentType?.startsWith('image/') && item.srcset) {
    const img = document.createElement('img');
    img.alt = item.name;
    img.sizes = SIZES;
    img.srcset = item.srcset;
    img.src = item.src;
    img.decoding = 'async';
    media.append(img);
    li.classList.add('has-image');
  } else {
    const icon = document.createElement('a');
    icon.className = 'file-icon';
    icon.href = item.url;
    icon.textContent = (item.name.split('.').pop() || 'file').slice(0, 4).toUpperCase();
    icon.setAttribute('aria-label', `Open ${item.name}`);
    media.append(icon);
  }
  li.querySelector('.status').after(link);
}

function restoreList() {
  for (const item of saved().reverse()) {
    const li = rowFor(item.key, item.name, item.size, item.contentType);
    setStatus(li, 'done', 'Uploaded earlier');
    showResult(li, item);
  }
  refreshEmpty();
}

/**
 * Speed and time left for everything being sent, once a second, in a polite live region (Uppy's
 * status bar shows the total and a time left, not the speed). Speed is averaged over the last
 * few seconds of bytes actually sent: parts found already stored after a reload count as done,
 * not as speed.
 */
function watchTransfer(uppy) {
  const out = $('#transfer');
  const last = new Map();
  const samples = [];
  let sent = 0;
  uppy.on('upload-progress', (file, progress) => {
    if (!file) return;
    const before = last.get(file.id);
    last.set(file.id, progress.bytesUploaded);
    if (before !== undefined && progress.bytesUploaded > before) sent += progress.bytesUploaded - before;
  });
  const forget = (file) => file && last.delete(file.id);
  uppy.on('upload-success', forget);
  uppy.on('upload-error', forget);
  uppy.on('file-removed', forget);
  setInterval(() => {
    const active = uppy.getFiles().filter((f) => f.progress.uploadStarted && !f.progress.uploadComplete);
    const now = performance.now();
    samples.push({ now, sent });
    while (samples.length > 1 && now - samples[0].now > 5000) samples.shift();
    if (active.length === 0) {
      out.textContent = '';
      return;
    }
    const total = active.reduce((n, f) => n + (f.size ?? 0), 0);
    const done = active.reduce((n, f) => n + (f.progress.bytesUploaded || 0), 0);
    const first = samples[0];
    const speed = now > first.now ? ((sent - first.sent) * 1000) / (now - first.now) : 0;
    const paused = active.every((f) => f.isPaused);
    const parts = [
      `${active.length === 1 ? 'Sending 1 file' : `Sending ${active.length} files`}: ${bytes(done)} of ${bytes(total)}`,
    ];
    if (paused) parts.push('paused');
    else if (speed > 0) {
      parts.push(`${bytes(Math.round(speed))}/s`);
      parts.push(`about ${duration((total - done) / speed)} left`);
    }
    out.textContent = parts.join(' · ');
  }, 1000);
}

async function loadLimits() {
  const res = await fetch(DEMO);
  if (!res.ok) throw new Error(String(res.status));
  return res.json();
}

function start(limits) {
  const note = `Up to ${bytes(limits.maxBytes)} each · ${typeList(limits.contentTypes)}`;
  $('#limits').textContent = note;
  const uppy = new Uppy({
    id: 'edgewise-demo',
    autoProceed: true,
    restrictions: { maxFileSize: limits.maxBytes, allowedFileTypes: limits.contentTypes },
    locale: {
      strings: {
        // The limits written out here rather than Uppy's placeholders: %{size} is in decimal
        // units and %{types} is the raw type list.
        exceedsSize: `“%{file}” is too large. Files can be up to ${bytes(limits.maxBytes)}.`,
        youCanOnlyUploadFileTypes: `This kind of file is not accepted here. Accepted: ${typeList(limits.contentTypes)}.`,
        failedToUpload: '“%{file}” was not uploaded',
        dropPasteFiles: 'Drop or paste files here, or %{browseFiles}',
        browseFiles: 'choose files',
      },
    },
  });
  const transport = createTransport({ uppy, limits });
  const partBytes = limits.multipart?.partBytes;
  uppy
    .use(Dashboard, {
      inline: true,
      target: '#uploader',
      width: '100%',
      height: 420,
      note,
      theme: 'auto',
      proudlyDisplayPoweredByUppy: false,
      showRemoveButtonAfterComplete: true,
      // Thumbnails would be blob: images, which the page's CSP (images from its own origin and
      // the edge only) does not allow; the list below shows each image from the edge once sent.
      disableThumbnailGenerator: true,
      doneButtonHandler: null,
    })
    .use(AwsS3, {
      // Multipart only when the origin offers it and the file has more than one part; small
      // files go in one PUT, which costs one request instead of three.
      shouldUseMultipart: (file) => Boolean(partBytes) && (file.size ?? 0) > partBytes,
      getChunkSize: () => partBytes,
      // Parts (and files) in flight at once: enough to fill a link, few enough that a cut
      // loses little (each part in flight is sent again).
      limit: 4,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      ...transport,
    })
    .use(GoldenRetriever, {
      // Uppy keeps files up to 10 MiB in IndexedDB by default; the demo's own limit is the one
      // that matters, so every file the demo takes survives a reload.
      indexedDB: { maxFileSize: limits.maxBytes, maxTotalSize: Math.max(limits.maxBytes * 4, 300 * 2 ** 20) },
    });

  // Restriction refusals (size, type) happen before a byte is sent; say them in the list too,
  // with the same words the server's refusals get.
  uppy.on('restriction-failed', (file, error) => {
    if (!file) return;
    const code = /too large/.test(error.message) ? 'EDGEWISE_UPLOAD_TOO_LARGE' : 'EDGEWISE_UNSUPPORTED_TYPE';
    const li = rowFor(`refused:${file.name}:${file.size}`, file.name, file.size, file.type);
    setStatus(li, 'error', explain(file, { code }, limits));
  });
  uppy.on('upload-error', (file, error) => {
    if (!file) return;
    const li = rowFor(file.id, file.name, file.size, file.type);
    setStatus(li, 'error', error.message);
  });
  uppy.on('upload-retry', (file) => {
    const f = typeof file === 'string' ? uppy.getFile(file) : file;
    if (f) list.querySelector(`li[data-id="${CSS.escape(f.id)}"]`)?.remove();
    refreshEmpty();
  });
  uppy.on('upload-success', (file, response) => {
    if (!file) return;
    const grant = file.meta.edgewise ?? {};
    const body = response.body ?? {};
    const item = {
      key: body.key ?? grant.key,
      name: file.name,
      size: body.size ?? file.size,
      contentType: body.contentType ?? file.type,
      url: body.url ?? body.location ?? response.uploadURL,
      srcset: grant.image?.srcset,
      src: grant.image?.src,
    };
    remember(item);
    const li = rowFor(file.id, file.name, item.size, item.contentType);
    setStatus(li, 'done', 'Uploaded');
    showResult(li, item);
  });

  // Paste anywhere on the page, not only with the focus inside the Dashboard (where Uppy itself
  // handles it).
  const root = $('#uploader');
  document.addEventListener('paste', (e) => {
    if (root.contains(document.activeElement) || root.contains(e.target)) return;
    const files = [...(e.clipboardData?.files ?? [])];
    if (files.length === 0) return;
    e.preventDefault();
    for (const data of files) {
      try {
        uppy.addFile({ name: data.name || 'pasted', type: data.type, data, source: 'paste' });
      } catch {
        // A refused file is reported through 'restriction-failed'.
      }
    }
  });

  watchTransfer(uppy);
  document.body.dataset.ready = 'true';
  return uppy;
}

function wire() {
  $('#clear').addEventListener('click', () => {
    localStorage.removeItem(STORE);
    list.replaceChildren();
    refreshEmpty();
  });
}

wire();
restoreList();
loadLimits().then(start, () => {
  $('#limits').textContent = '';
  const err = $('#page-error');
  err.textContent = 'The demo upload service is not answering. Is `edgewise dev` running?';
  err.hidden = false;
});
