// What went wrong, in words a person uploading a file understands. The servers answer errors as
// JSON with a catalogue code (docs/errors.md); this module turns a code, plus what we know about
// the file and the upload's limits, into one sentence that says what happened and what to do.

const TYPE_NAMES = {
  'image/jpeg': 'JPEG',
  'image/png': 'PNG',
  'image/webp': 'WebP',
  'image/gif': 'GIF',
  'image/avif': 'AVIF',
  'text/plain': 'text',
  'application/pdf': 'PDF',
};

/** `12.3 MiB`: binary units, as the limits are configured in bytes. */
export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return 'unknown size';
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

/** `about 1 min 20 s`, for an ETA. */
export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function typeName(type) {
  return TYPE_NAMES[type] ?? type;
}

export function typeList(types) {
  return (types ?? []).map(typeName).join(', ');
}

/**
 * The refusal of a content-sniffing check reads "Content type not allowed: image/png declared,
 * but the bytes are text/plain" (src/uploads/content-type.ts); the detected type, when there is
 * one, lets the sentence say what the file really is.
 */
function sniffed(message) {
  const m = /: (\S+) declared, but the bytes are (not )?(\S+)$/.exec(message ?? '');
  if (!m) return undefined;
  return { declared: m[1], detected: m[2] ? undefined : m[3] };
}

/**
 * One sentence for a failed upload. `error` is `{ code, message, statusCode, retryAfter }` from a
 * server's JSON answer, or `{ code: 'NETWORK' }` when no answer came.
 */
export function explain(file, error, limits) {
  const name = `“${file.name}”`;
  const accepted = typeList(limits?.contentTypes);
  switch (error.code) {
    case 'EDGEWISE_UPLOAD_TOO_LARGE':
      return `${name} is too large (${bytes(file.size)}). Files can be up to ${bytes(limits?.maxBytes)}.`;
    case 'EDGEWISE_UNSUPPORTED_TYPE': {
      const sniff = sniffed(error.message);
      if (sniff)
        return sniff.detected
          ? `${name} is named as a ${typeName(sniff.declared)} file but its contents are ${typeName(sniff.detected)}, so it was not stored. Accepted: ${accepted}.`
          : `${name} is named as a ${typeName(sniff.declared)} file but its contents are not ${typeName(sniff.declared)}, so it was not stored. Accepted: ${accepted}.`;
      return `${name} is a kind of file this site does not accept (${file.type || 'unknown type'}). Accepted: ${accepted}.`;
    }
    case 'EDGEWISE_UPLOAD_SIGNATURE_EXPIRED':
      return `The upload link for ${name} expired before the file was sent. Remove the file and add it again to get a new link.`;
    case 'EDGEWISE_UPLOAD_SIGNATURE_INVALID':
    case 'EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY':
    case 'EDGEWISE_UPLOAD_SIGNATURE_WRONG_METHOD':
    case 'EDGEWISE_UPLOAD_SIGNATURE_MISSING':
      return `The server refused the upload link for ${name}: it was changed or is meant for another file. Remove the file and add it again.`;
    case 'EDGEWISE_CHECKSUM_MISMATCH':
    case 'EDGEWISE_UPLOAD_ABORTED':
      return `${name} did not arrive complete. Press retry to send it again.`;
    case 'EDGEWISE_UPLOAD_TOO_SLOW':
      return `${name} was arriving too slowly, so the server stopped waiting. Press retry when the connection is better.`;
    case 'EDGEWISE_UPLOADS_BUSY':
    case 'EDGEWISE_UPLOAD_GRANT_BUSY':
    case 'EDGEWISE_OVERLOADED':
      return `The server is busy right now. Press retry for ${name}${error.retryAfter ? ` in ${error.retryAfter} seconds` : ' shortly'}.`;
    case 'EDGEWISE_STORAGE_UNAVAILABLE':
    case 'EDGEWISE_STORAGE_FAILED':
      return `The server could not store ${name} just now. Press retry later.`;
    case 'EDGEWISE_BAD_KEY':
      return `The name ${name} cannot be used for a stored file. Rename it and add it again.`;
    case 'NO_ETAG':
      return `${name} could not be sent: the server's answer to a part could not be read (its ETag header is not exposed to this page).`;
    case 'NETWORK':
      return `${name} could not be sent: the connection to the server failed. The parts already sent are kept; press retry when you are back online.`;
    default:
      return `${name} was not uploaded: ${error.message || `the server answered ${error.statusCode}`}.`;
  }
}

/** A server's answer as an error object: its JSON when it has a code, else its status. */
export function parseError(status, text, retryAfter) {
  if (status === 0) return { code: 'NETWORK', statusCode: 0 };
  try {
    const json = JSON.parse(text);
    if (json && typeof json.code === 'string') return { ...json, retryAfter };
  } catch {}
  return { statusCode: status, code: 'UNKNOWN', message: `the server answered ${status}`, retryAfter };
}
