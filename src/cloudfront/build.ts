/**
 * Builds the deployable CloudFront Functions from edgewise.yaml: the templates in
 * edge-functions/ get the content-class table inlined (or, with classSource kvs, only the path
 * patterns inlined and the per-class settings emitted as KeyValueStore entries, so a TTL edit
 * is a KVS update instead of a function publish — path patterns stay inline because they are
 * cache behaviors too, and changing those is a distribution update anyway).
 *
 * Path patterns compile with the same first-match semantics as src/classes.ts, written with
 * `[\s\S]` instead of the dotAll flag so the regexes use only ES5 syntax.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EdgewiseConfig } from '../config/schema.js';
import type { ContentClassConfig } from '../config/sections/classes.js';
import {
  BadPath,
  CloudfrontBuildFailed,
  EdgeHttpsRequired,
  ImageBadParam,
  NonCanonicalPath,
  UriTooLong,
} from '../errors.js';
import { examinePath } from '../http/path.js';
import { acceptsExplicitly } from '../images/negotiate.js';
import { DEFAULT_FIT, FITS } from '../images/params.js';

/** CloudFront's limit on a function's code size. */
export const MAX_FUNCTION_BYTES = 10 * 1024;
/** CloudFront KeyValueStore limits: key 512 bytes, value 1 KB. */
export const MAX_KVS_KEY_BYTES = 512;
export const MAX_KVS_VALUE_BYTES = 1024;

type BuildConfig = Pick<EdgewiseConfig, 'classes' | 'defaultClass' | 'cloudfront' | 'images'>;

export class BuildError extends Error {
  readonly code = CloudfrontBuildFailed.code;
  override name = 'BuildError';
}

export interface BuiltFunction {
  name: 'viewer-request' | 'viewer-response';
  code: string;
  bytes: number;
}

export interface KvsEntry {
  key: string;
  value: string;
}

export interface BuildOutput {
  viewerRequest: BuiltFunction;
  viewerResponse: BuiltFunction;
  /** KeyValueStore import file contents ({"data":[{key,value}]}), with classSource kvs. */
  kvs: { data: KvsEntry[] } | undefined;
}

/** A CloudFront path pattern as an ES5 regex source (anchored, `*` and `?` across `/`). */
export function patternSource(pattern: string): string {
  let src = '^';
  for (const ch of pattern) {
    if (ch === '*') src += '[\\s\\S]*';
    else if (ch === '?') src += '[\\s\\S]';
    else src += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  return `${src}$`;
}

function classSettings(cls: ContentClassConfig) {
  return {
    n: cls.name,
    q: [...cls.cacheKey.queryStrings],
    qa: cls.cacheKey.queryStringBehavior === 'all' ? 1 : 0,
    v: cls.viewerProtocolPolicy,
    b: cls.browserTtl,
    swr: cls.staleWhileRevalidate,
    sie: cls.staleIfError,
    sg: cls.signed ? 1 : 0,
  };
}

/** Image rules the edge applies; `fit[0]` is the origin's default fit. */
function imageSettings(config: BuildConfig) {
  return {
    w: [...config.images.widths],
    q: [...config.images.qualities],
    dq: config.images.defaultQuality,
    f: [...config.images.formats],
    fit: [DEFAULT_FIT, ...FITS.filter((f) => f !== DEFAULT_FIT)],
  };
}

function defaultIndex(config: BuildConfig): number {
  const i = config.classes.findIndex((c) => c.name === config.defaultClass);
  return i === -1 ? 0 : i;
}

let templateDir: string | undefined;
/** edge-functions/ beside the package root, from src/ (tests) or dist/src/ (built CLI). */
export function edgeFunctionsDir(): string {
  if (templateDir) return templateDir;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'edge-functions', 'viewer-request', 'index.template.js'))) {
      templateDir = join(dir, 'edge-functions');
      return templateDir;
    }
    dir = resolve(dir, '..');
  }
  throw new BuildError('edge-functions/ templates not found next to the edgewise package');
}

/** Drops full-line `//` comments and indentation; the templates keep comments on their own lines. */
function compact(code: string): string {
  return code
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('//'))
    .join('\n')
    .concat('\n');
}

/**
 * The errors a function answers itself, from the catalogue (src/errors.ts): status, code and
 * message template, so its bodies are the origin's `{statusCode, code, message}`.
 */
function errorEntry(ctor: new (...args: string[]) => Error & { code: string; statusCode?: number }) {
  const e = new ctor();
  const s = e.statusCode ?? 500;
  return { s, d: STATUS_CODES[s] ?? '', c: e.code, m: e.message };
}

const FUNCTION_ERRORS = {
  long: UriTooLong,
  bad: BadPath,
  path: NonCanonicalPath,
  https: EdgeHttpsRequired,
  img: ImageBadParam,
};

/** Shared rules whose source is inlined into the functions: the same code the origin runs. */
const SHARED_CODE: Record<string, { toString(): string }> = {
  examinePath,
  acceptsExplicitly,
};

function render(
  name: BuiltFunction['name'],
  header: string,
  data: object,
  kvsId: string | null,
): BuiltFunction {
  const template = readFileSync(join(edgeFunctionsDir(), name, 'index.template.js'), 'utf8');
  const configMarker = '/*@edgewise:config*/ null';
  const kvsMarker = '/*@edgewise:kvs*/ null';
  if (!template.includes(configMarker) || !template.includes(kvsMarker))
    throw new BuildError(`${name} template lacks its config markers`);
  let source = template
    .replace(configMarker, () => JSON.stringify(data))
    .replace(kvsMarker, () => JSON.stringify(kvsId));
  for (const [marker, fn] of Object.entries(SHARED_CODE))
    source = source.replace(`/*@edgewise:${marker}*/ null`, () => fn.toString());
  const code = `${header}\n${compact(source)}`;
  const bytes = Buffer.byteLength(code);
  if (bytes > MAX_FUNCTION_BYTES)
    throw new BuildError(
      `${name} is ${bytes} bytes, over CloudFront's ${MAX_FUNCTION_BYTES}-byte limit: fewer path patterns or classes${kvsId ? '' : ', or cloudfront.functions.classSource: kvs'}`,
    );
  return { name, code, bytes };
}

export function buildFunctions(config: Readonly<BuildConfig>): BuildOutput {
  const fn = config.cloudfront.functions;
  const kvsMode = fn.classSource === 'kvs';
  const patterns = config.classes.map((c) => c.pathPatterns.map(patternSource));
  const inline = config.classes.map((c, i) =>
    kvsMode ? { n: c.name, p: patterns[i] } : { ...classSettings(c), p: patterns[i] },
  );
  const kvsId = kvsMode ? fn.kvsId : null;
  const kp = fn.kvsKeyPrefix;
  const header = `// edgewise ${kvsMode ? `(classes from KeyValueStore ${fn.kvsId})` : '(classes inline)'}; generated by \`edgewise cloudfront build\`, do not edit`;

  const viewerRequest = render(
    'viewer-request',
    header,
    {
      classes: inline,
      def: defaultIndex(config),
      maxUri: fn.maxUriBytes,
      ip: fn.imagePathPrefix,
      kp,
      e: Object.fromEntries(Object.entries(FUNCTION_ERRORS).map(([k, c]) => [k, errorEntry(c)])),
      ...(kvsMode ? {} : { img: imageSettings(config) }),
    },
    kvsId,
  );
  const hsts =
    fn.hstsMaxAge > 0
      ? `max-age=${fn.hstsMaxAge}${fn.hstsIncludeSubdomains ? '; includeSubDomains' : ''}`
      : '';
  const viewerResponse = render(
    'viewer-response',
    header,
    {
      classes: inline,
      def: defaultIndex(config),
      kp,
      hsts,
      rp: fn.referrerPolicy,
      st: fn.serverTiming ? 1 : 0,
    },
    kvsId,
  );

  let kvs: BuildOutput['kvs'];
  if (kvsMode) {
    const data: KvsEntry[] = config.classes.map((c) => ({
      key: kp + c.name,
      value: JSON.stringify(classSettings(c)),
    }));
    data.push({ key: `${kp}images`, value: JSON.stringify(imageSettings(config)) });
    for (const e of data) {
      if (Buffer.byteLength(e.key) > MAX_KVS_KEY_BYTES)
        throw new BuildError(`KeyValueStore key ${e.key} is over 512 bytes`);
      if (Buffer.byteLength(e.value) > MAX_KVS_VALUE_BYTES)
        throw new BuildError(`KeyValueStore value for ${e.key} is over ${MAX_KVS_VALUE_BYTES} bytes`);
    }
    kvs = { data };
  }
  return { viewerRequest, viewerResponse, kvs };
}

/** KeyValueStore contents as a lookup, for running kvs-mode functions locally. */
export function kvsLookup(kvs: BuildOutput['kvs']): { get(key: string): string | undefined } {
  const map = new Map((kvs?.data ?? []).map((e) => [e.key, e.value]));
  return { get: (key) => map.get(key) };
}

/** Writes viewer-request.js, viewer-response.js and (kvs mode) kvs.json into `outDir`. */
export function writeBuild(out: BuildOutput, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  for (const f of [out.viewerRequest, out.viewerResponse]) {
    const file = join(outDir, `${f.name}.js`);
    writeFileSync(file, f.code);
    files.push(file);
  }
  if (out.kvs) {
    const file = join(outDir, 'kvs.json');
    writeFileSync(file, `${JSON.stringify(out.kvs, null, 2)}\n`);
    files.push(file);
  }
  return files;
}
