/**
 * Content-type rules for uploads: the declared type must be allowed, and the first bytes must
 * not contradict it (file-type magic numbers). A PNG declared as text/plain, or an executable
 * declared as image/png, is refused with 415 before anything is stored.
 */
import { fileTypeFromBuffer } from 'file-type';
import { UnsupportedType } from '../errors.js';

/** Bytes file-type needs to recognise every format it knows (its documented sample size). */
export const SNIFF_BYTES = 4100;

/** `Type/Sub; charset=x` → `type/sub`; undefined when it is not a MIME type at all. */
export function essence(contentType: string | undefined): string | undefined {
  const e = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(e) ? e : undefined;
}

export function matchesPattern(type: string, pattern: string): boolean {
  if (pattern === '*/*') return true;
  if (pattern.endsWith('/*')) return type.startsWith(pattern.slice(0, -1));
  return type === pattern;
}

/** True when `pattern` (a type or family) allows nothing that `allowed` does not. */
export function patternWithin(pattern: string, allowed: readonly string[]): boolean {
  return allowed.some(
    (a) => a === '*/*' || a === pattern || (!pattern.endsWith('/*') && matchesPattern(pattern, a)),
  );
}

export function typeAllowed(type: string, config: readonly string[], grant: readonly string[]): boolean {
  return (
    config.some((p) => matchesPattern(type, p)) &&
    (grant.length === 0 || grant.some((p) => matchesPattern(type, p)))
  );
}

const ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/heif': 'image/heic',
  'audio/x-wav': 'audio/wav',
  'audio/wave': 'audio/wav',
  'application/x-javascript': 'application/javascript',
  'text/xml': 'application/xml',
};
const canon = (t: string) => ALIASES[t] ?? t;

function textual(t: string): boolean {
  return (
    t.startsWith('text/') ||
    t.endsWith('+xml') ||
    t.endsWith('+json') ||
    t === 'application/xml' ||
    t === 'application/json' ||
    t === 'application/javascript'
  );
}

/** Declared types whose format always starts with magic bytes: the bytes must confirm them. */
function mustConfirm(t: string): boolean {
  return (t.startsWith('image/') && !t.endsWith('+xml')) || t === 'application/pdf';
}

/**
 * The content type to store, after checking the first bytes against the declared type.
 * `application/octet-stream` (the "don't know" type) takes the detected type when there is one.
 */
export async function checkSniffedType(declared: string, head: Buffer): Promise<string> {
  const type = essence(declared);
  if (!type) throw new UnsupportedType(`"${declared}" is not a media type`);
  const found = head.length > 0 ? await fileTypeFromBuffer(head) : undefined;
  const detected = found?.mime;
  if (type === 'application/octet-stream') return detected ?? declared;
  if (detected === undefined) {
    if (mustConfirm(canon(type)))
      throw new UnsupportedType(`${type} declared, but the bytes are not ${type}`);
    return declared;
  }
  const a = canon(type);
  const b = canon(detected);
  if (a === b) return declared;
  if (textual(a) && textual(b)) return declared;
  // Containers (MP4/QuickTime, M4A, WebM/Matroska) are ambiguous between audio and video brands.
  const family = (t: string) => t.split('/', 1)[0];
  const av = (t: string) => family(t) === 'audio' || family(t) === 'video';
  if (av(a) && av(b)) return declared;
  throw new UnsupportedType(`${type} declared, but the bytes are ${detected}`);
}
