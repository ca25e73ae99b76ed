// The upload demo page: asks the origin's demo endpoint for one signed upload URL per file,
// PUTs the file there (through the edge) with XMLHttpRequest, because fetch() reports no
// upload progress, and shows images with the srcset the server hands out, so the browser
// picks one of the configured widths and the edge caches few variants.

const DEMO = '/_dev/upload-urls';
const STORE = 'edgewise-demo-uploads';
// Matches the layout in app.css: cards are 384px wide from 640px up, else the page width.
const SIZES = '(min-width: 640px) 384px, calc(100vw - 2rem)';
const PARALLEL = 3;

const $ = (sel) => document.querySelector(sel);
const list = $('#uploads');
const template = $('#item');
let limits;

const TYPE_NAMES = {
  'image/jpeg': 'JPEG',
  'image/png': 'PNG',
  'image/webp': 'WebP',
  'image/gif': 'GIF',
  'image/avif': 'AVIF',
  'text/plain': 'text',
  'application/pdf': 'PDF',
};

function bytes(n) {
  if (typeof n !== 'number') return 'unknown size';
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function typeList(types) {
  return types.map((t) => TYPE_NAMES[t] ?? t).join(', ');
}

/** What a server error means, in words a person uploading a file understands. */
function plainWords(file, error, grant, retryAfter) {
  const name = `“${file.name}”`;
  switch (error.code) {
    case 'EDGEWISE_UPLOAD_TOO_LARGE':
      return `${name} is too large (${bytes(file.size)}). Files can be up to ${bytes(grant?.maxBytes ?? limits?.maxBytes)}.`;
    case 'EDGEWISE_UNSUPPORTED_TYPE':
      return `${name} is a kind of file this site does not accept (${file.type || 'unknown type'}). Accepted: ${typeList(grant?.contentTypes ?? limits?.contentTypes ?? [])}.`;
    case 'EDGEWISE_UPLOAD_SIGNATURE_EXPIRED':
      return `The upload link for ${name} expired before the file was sent. Add the file again to get a new link.`;
    case 'EDGEWISE_UPLOAD_SIGNATURE_INVALID':
    case 'EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY':
    case 'EDGEWISE_UPLOAD_SIGNATURE_WRONG_METHOD':
    case 'EDGEWISE_UPLOAD_SIGNATURE_MISSING':
      return `The server refused the upload link for ${name}: it was changed or is meant for another file. Add the file again.`;
    case 'EDGEWISE_CHECKSUM_MISMATCH':
    case 'EDGEWISE_UPLOAD_ABORTED':
      return `${name} did not arrive complete. Try again.`;
    case 'EDGEWISE_UPLOADS_BUSY':
    case 'EDGEWISE_OVERLOADED':
      return `The server is busy right now. Try ${name} again${retryAfter ? ` in ${retryAfter} seconds` : ' shortly'}.`;
    case 'EDGEWISE_STORAGE_UNAVAILABLE':
    case 'EDGEWISE_STORAGE_FAILED':
      return `The server could not store ${name} just now. Try again later.`;
    case 'EDGEWISE_BAD_KEY':
      return `The name ${name} cannot be used for a stored file. Rename it and try again.`;
    case 'NETWORK':
      return `${name} could not be sent: the connection to the server failed.`;
    default:
      return `${name} was not uploaded: ${error.message || `the server answered ${error.statusCode}`}.`;
  }
}

function parseError(status, text) {
  try {
    const json = JSON.parse(text);
    if (json && typeof json.code === 'string') return json;
  } catch {}
  return { statusCode: status, code: 'UNKNOWN', message: `the server answered ${status}` };
}

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

function newRow(name, size, type) {
  const li = template.content.firstElementChild.cloneNode(true);
  li.querySelector('.name').textContent = name;
  li.querySelector('.meta').textContent = `${bytes(size)} · ${type || 'unknown type'}`;
  li.querySelector('progress').setAttribute('aria-label', `Upload progress of ${name}`);
  list.prepend(li);
  refreshEmpty();
  return li;
}

function setProgress(li, percent) {
  const p = Math.max(0, Math.min(100, Math.floor(percent)));
  li.querySelector('progress').value = p;
  li.querySelector('output').value = `${p}%`;
  li.dataset.progress = String(p);
}

function setStatus(li, state, text) {
  li.dataset.state = state;
  const status = li.querySelector('.status');
  status.textContent = text;
  status.className = `status ${state}`;
  if (state === 'error') status.setAttribute('role', 'alert');
}

/** The uploaded file: a responsive image for images, else a link. */
function showResult(li, item) {
  const media = li.querySelector('.media');
  media.replaceChildren();
  const link = document.createElement('a');
  link.href = item.url;
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
    media.append(icon);
  }
  li.querySelector('.status').after(link);
}

async function askForUrl(file) {
  const res = await fetch(DEMO, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: file.name, size: file.size, type: uploadType(file) }),
  });
  const text = await res.text();
  if (res.status !== 201)
    throw { error: parseError(res.status, text), retryAfter: res.headers.get('retry-after') };
  return JSON.parse(text);
}

/** The type the upload declares: the browser's guess, or plain bytes when it has none. */
function uploadType(file) {
  return file.type || 'application/octet-stream';
}

function put(grant, file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(grant.method, grant.url);
    xhr.setRequestHeader('content-type', uploadType(file));
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress((e.loaded / e.total) * 100);
    });
    xhr.upload.addEventListener('load', () => onProgress(100));
    xhr.addEventListener('load', () =>
      resolve({
        status: xhr.status,
        text: xhr.responseText,
        retryAfter: xhr.getResponseHeader('retry-after'),
      }),
    );
    xhr.addEventListener('error', () => resolve({ status: 0, text: '', retryAfter: null }));
    xhr.addEventListener('abort', () => resolve({ status: 0, text: '', retryAfter: null }));
    xhr.send(file);
  });
}

async function upload(file) {
  const li = newRow(file.name, file.size, file.type);
  setProgress(li, 0);
  setStatus(li, 'working', 'Getting an upload link…');
  let grant;
  try {
    grant = await askForUrl(file);
  } catch (failure) {
    const error = failure?.error ?? { code: 'NETWORK' };
    setStatus(li, 'error', plainWords(file, error, undefined, failure?.retryAfter));
    return;
  }
  setStatus(li, 'working', 'Uploading…');
  const res = await put(grant, file, (p) => setProgress(li, Math.min(p, 99)));
  if (res.status === 201) {
    const stored = JSON.parse(res.text);
    setProgress(li, 100);
    setStatus(li, 'done', 'Uploaded');
    const item = {
      key: stored.key,
      name: file.name,
      size: stored.size,
      contentType: stored.contentType,
      url: stored.url,
      srcset: grant.image?.srcset,
      src: grant.image?.src,
    };
    remember(item);
    showResult(li, item);
    return;
  }
  const error = res.status === 0 ? { code: 'NETWORK' } : parseError(res.status, res.text);
  setStatus(li, 'error', plainWords(file, error, grant, res.retryAfter));
}

async function uploadAll(files) {
  const queue = [...files];
  const worker = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) await upload(f);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
}

async function loadLimits() {
  const el = $('#limits');
  try {
    const res = await fetch(DEMO);
    if (!res.ok) throw new Error(String(res.status));
    limits = await res.json();
    el.textContent = `Up to ${bytes(limits.maxBytes)} each · ${typeList(limits.contentTypes)}`;
  } catch {
    el.textContent = '';
    const err = $('#page-error');
    err.textContent = 'The demo upload service is not answering. Is `edgewise dev` running?';
    err.hidden = false;
  }
}

function restore() {
  for (const item of saved().reverse()) {
    const li = newRow(item.name, item.size, item.contentType);
    setProgress(li, 100);
    setStatus(li, 'done', 'Uploaded earlier');
    showResult(li, item);
  }
  refreshEmpty();
}

function wire() {
  const input = $('#files');
  const zone = $('#picker');
  input.addEventListener('change', () => {
    const files = [...input.files];
    input.value = '';
    void uploadAll(files);
  });
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
  }
  for (const type of ['dragleave', 'drop']) zone.addEventListener(type, () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    void uploadAll([...(e.dataTransfer?.files ?? [])]);
  });
  zone.addEventListener('submit', (e) => e.preventDefault());
  $('#clear').addEventListener('click', () => {
    localStorage.removeItem(STORE);
    list.replaceChildren();
    refreshEmpty();
  });
}

wire();
restore();
void loadLimits();
