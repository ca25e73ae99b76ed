// How the page talks to our servers for Uppy's @uppy/aws-s3 plugin: the demo signing endpoint
// hands out one upload grant per file, and the grant says where the file goes. Small files go up
// in one PUT to the grant's signed URL; large ones, when the origin offers it, use the multipart
// protocol of @uppy/aws-s3 (create, sign each part, list parts, complete, abort) on the routes
// the grant names, so parts are sent in parallel, retried one by one, and an upload cut off (or a
// page reloaded) resumes from the parts already stored.
//
// Every function here is one of @uppy/aws-s3's hooks, written out instead of pointing the plugin
// at an `endpoint`, so that (1) the grant's signature rides on every request, and (2) a server's
// error answer, JSON with a catalogue code, becomes a sentence (messages.js) instead of Uppy's
// "Non 2xx".

import { explain, parseError } from './messages.js';

const DEMO = '/_dev/upload-urls';

/** An upload failure with the sentence to show; `source.status` drives Uppy's retry choice. */
export class UploadError extends Error {
  constructor(message, error) {
    super(message);
    this.name = 'UploadError';
    this.code = error.code;
    this.statusCode = error.statusCode ?? 0;
    // @uppy/aws-s3 retries a part on 5xx, 429, 409 and network errors (status 0), not on
    // other 4xx; it reads the status from `source`.
    this.source = { status: this.statusCode };
  }
}

export function createTransport({ uppy, limits }) {
  const fail = (file, error) => new UploadError(explain(file, error, limits), error);

  /** fetch() that answers JSON or throws an UploadError with the server's own reason. */
  async function call(file, url, init = {}) {
    let res;
    try {
      res = await fetch(url, init);
    } catch (err) {
      if (err?.name === 'AbortError') throw err;
      throw fail(file, { code: 'NETWORK', statusCode: 0 });
    }
    const text = await res.text();
    if (!res.ok) throw fail(file, parseError(res.status, text, res.headers.get('retry-after')));
    return text === '' ? {} : JSON.parse(text);
  }

  /**
   * The file's grant: asked for once and kept in the file's metadata, which Golden Retriever
   * saves with the file, so that after a reload the upload goes on with the same key and the
   * same multipart upload. One grant serves both ways of sending: its signed URL for one PUT,
   * its `resumableEndpoint` for the multipart protocol.
   */
  const grants = new Map();
  async function grantOf(file) {
    // Also kept here: a removed file is gone from Uppy's state, and the object Uppy hands the
    // abort hook then is the one from before the grant was added to it.
    const kept = grants.get(file.id) ?? uppy.getFile(file.id)?.meta.edgewise;
    if (kept) return kept;
    const grant = await call(file, DEMO, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: file.name,
        size: file.size,
        type: file.type || 'application/octet-stream',
      }),
    });
    grants.set(file.id, grant);
    uppy.setFileMeta(file.id, { edgewise: grant });
    return grant;
  }

  /** A multipart route of the file's grant: `<resumableEndpoint>/s3/multipart…`. */
  function route(grant, path, query = {}) {
    const url = new URL(`${grant.resumableEndpoint}/s3/multipart${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url.toString();
  }

  /*
   * Parts already stored are kept through a failure. When a file fails for good (its retries
   * spent: a long cut, a server error), @uppy/aws-s3 5 aborts its multipart upload and forgets
   * the upload id, so "retry" would start again from byte 0. Here the abort hook sends DELETE
   * only when the user removed the file or cancelled everything, and the upload id and key are
   * given back to the file after the failure: retry then lists the stored parts and sends only
   * the missing ones, as after a reload. Abandoned uploads are removed by `storage cleanup`.
   */
  const cancelled = new Set();
  const uploads = new Map();
  const remember = (file, uploadId, key) => uploads.set(file.id, { uploadId, key });
  uppy.on('file-removed', (file) => file && cancelled.add(file.id));
  uppy.on('cancel-all', () => {
    for (const f of uppy.getFiles()) cancelled.add(f.id);
  });
  uppy.on('upload-error', (file) => {
    const kept = file && !cancelled.has(file.id) ? uploads.get(file.id) : undefined;
    if (kept && uppy.getFile(file.id)) uppy.setFileState(file.id, { s3Multipart: { ...kept } });
  });
  uppy.on('upload-success', (file) => {
    if (!file) return;
    uploads.delete(file.id);
    grants.delete(file.id);
  });

  // The URL a signature is for → the file, so the part PUT's error can name the file.
  const urlFiles = new Map();

  return {
    async getUploadParameters(file) {
      const grant = await grantOf(file);
      urlFiles.set(grant.url, { file, single: true });
      return {
        method: grant.method,
        url: grant.url,
        headers: { 'content-type': file.type || 'application/octet-stream' },
      };
    },

    async createMultipartUpload(file) {
      const grant = await grantOf(file);
      const made = await call(file, route(grant, ''), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          filename: file.name,
          type: file.type || 'application/octet-stream',
          metadata: {},
        }),
      });
      remember(file, made.uploadId, made.key);
      return { uploadId: made.uploadId, key: made.key };
    },

    async signPart(file, { uploadId, key, partNumber, signal }) {
      const grant = await grantOf(file);
      remember(file, uploadId, key);
      const signed = await call(
        file,
        route(grant, `/${encodeURIComponent(uploadId)}/${partNumber}`, { key }),
        {
          signal,
        },
      );
      urlFiles.set(signed.url, { file, single: false });
      return { url: signed.url, expires: signed.expires };
    },

    async listParts(file, { uploadId, key, signal }) {
      const grant = await grantOf(file);
      remember(file, uploadId, key);
      return call(file, route(grant, `/${encodeURIComponent(uploadId)}`, { key }), { signal });
    },

    async completeMultipartUpload(file, { uploadId, key, parts, signal }) {
      const grant = await grantOf(file);
      return call(file, route(grant, `/${encodeURIComponent(uploadId)}/complete`, { key }), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ parts: parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) }),
        signal,
      });
    },

    async abortMultipartUpload(file, { uploadId, key, signal }) {
      if (!cancelled.has(file.id)) return;
      uploads.delete(file.id);
      const grant = await grantOf(file);
      await call(file, route(grant, `/${encodeURIComponent(uploadId)}`, { key }), {
        method: 'DELETE',
        signal,
      });
    },

    /**
     * Sends one part (or a whole small file) with XMLHttpRequest, which, unlike fetch(), reports
     * upload progress. Resolves with the ETag (the part's receipt for the completion request)
     * and, for a single PUT, the stored object's description from the upload endpoint.
     */
    uploadPartBytes({
      signature: { url, headers, method = 'PUT' },
      body,
      size,
      onProgress,
      onComplete,
      signal,
    }) {
      const { file, single } = urlFiles.get(url) ?? { file: { name: 'the file' }, single: true };
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(new DOMException('Upload aborted', 'AbortError'));
        const xhr = new XMLHttpRequest();
        xhr.open(method, url, true);
        for (const [k, v] of Object.entries(headers ?? {})) xhr.setRequestHeader(k, v);
        xhr.responseType = 'text';
        const onabort = () => xhr.abort();
        signal?.addEventListener('abort', onabort);
        const done = () => signal?.removeEventListener('abort', onabort);
        xhr.upload.addEventListener('progress', (ev) => onProgress?.(ev));
        xhr.addEventListener('abort', () => {
          done();
          reject(new DOMException('Upload aborted', 'AbortError'));
        });
        xhr.addEventListener('error', () => {
          done();
          reject(fail(file, { code: 'NETWORK', statusCode: 0 }));
        });
        xhr.addEventListener('load', () => {
          done();
          if (xhr.status < 200 || xhr.status >= 300) {
            reject(
              fail(file, parseError(xhr.status, xhr.responseText, xhr.getResponseHeader('retry-after'))),
            );
            return;
          }
          urlFiles.delete(url);
          onProgress?.({ loaded: size, total: size, lengthComputable: true });
          let stored = {};
          try {
            const json = JSON.parse(xhr.responseText);
            if (json && typeof json === 'object' && !Array.isArray(json)) stored = json;
          } catch {}
          // Read from the exposed headers only: getResponseHeader() of a header CORS does not
          // expose logs an error in the console.
          const etag = /^etag: *(.+?) *$/im.exec(xhr.getAllResponseHeaders())?.[1] ?? stored.etag;
          // A part's ETag is its receipt for the completion request; without it (a CORS answer
          // that does not expose ETag) the upload could never complete, so say so now.
          if (!single && !etag) {
            reject(fail(file, { code: 'NO_ETAG', statusCode: xhr.status }));
            return;
          }
          onComplete?.(etag);
          resolve({ ...stored, ETag: etag ?? '', ...(stored.url ? { location: stored.url } : {}) });
        });
        xhr.send(body);
      });
    },
  };
}
