/**
 * `ttl suggest --apply`: the proposed `ttl.default` values written into edgewise.yaml. The
 * `yaml` Document API finds each value's node and its source range, and only those characters
 * are replaced, so comments, key order, quoting, flow style and every other byte stay as the
 * operator wrote them (a value written as a duration, `30m`, stays a duration). A file without
 * a `classes` list runs on the embedded defaults: the running list, changed, is appended. The result is validated with the real loader
 * before anything is written.
 */
import { isMap, isScalar, isSeq, parseDocument, stringify } from 'yaml';
import { buildConfig } from '../config/load.js';
import type { EdgewiseConfig } from '../config/schema.js';

export interface TtlChange {
  cls: string;
  ttl: number;
}

export class ApplyError extends Error {
  override name = 'ApplyError';
}

/** Seconds in the duration syntax (src/config/duration.ts): 5400 → `1h30m`, 45 → `45s`. */
export function formatSeconds(s: number): string {
  if (s === 0) return '0s';
  const units: Array<[string, number]> = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  let rest = s;
  let out = '';
  for (const [u, n] of units) {
    const q = Math.floor(rest / n);
    if (q > 0) out += `${q}${u}`;
    rest -= q * n;
  }
  return out;
}

/** The file's new text, or ApplyError when it cannot be edited or the result is invalid. */
export function applyChanges(
  text: string,
  file: string,
  config: Readonly<EdgewiseConfig>,
  changes: readonly TtlChange[],
  env: NodeJS.ProcessEnv = {},
): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new ApplyError(`${file} is not valid YAML: ${doc.errors[0]!.message}`);
  if (doc.contents !== null && !isMap(doc.contents))
    throw new ApplyError(`${file} is not a mapping of sections`);
  const classes = doc.get('classes', true);
  let out = text;
  if (classes === undefined) {
    // Embedded defaults: write the running list, changed.
    const list = structuredClone(config.classes) as EdgewiseConfig['classes'];
    for (const c of changes) {
      const cls = list.find((x) => x.name === c.cls);
      if (!cls) throw new ApplyError(`unknown class "${c.cls}"`);
      cls.ttl.default = c.ttl;
    }
    // Appended, so what the file holds stays as written.
    const sep = text === '' || text.endsWith('\n') ? '' : '\n';
    out = `${text}${sep}${stringify({ classes: list })}`;
  } else {
    if (!isSeq(classes)) throw new ApplyError(`${file}: classes is not a list`);
    // Each value is replaced in the text where the parser found it, so nothing else moves.
    const edits: Array<{ start: number; end: number; text: string }> = [];
    for (const c of changes) {
      const index = classes.items.findIndex((item) => isMap(item) && item.get('name') === c.cls);
      if (index === -1) throw new ApplyError(`${file}: no class named "${c.cls}"`);
      const node = doc.getIn(['classes', index, 'ttl', 'default'], true);
      if (!isScalar(node) || !node.range)
        throw new ApplyError(`${file}: classes[${index}].ttl.default is not a plain value to edit`);
      const asDuration = typeof node.value === 'string';
      edits.push({
        start: node.range[0],
        end: node.range[1],
        text: asDuration ? formatSeconds(c.ttl) : String(c.ttl),
      });
    }
    edits.sort((a, b) => b.start - a.start);
    for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  }
  try {
    buildConfig(parseDocument(out).toJS(), file, env);
  } catch (err) {
    throw new ApplyError(`the edited config would not load: ${(err as Error).message}`, { cause: err });
  }
  return out;
}

/**
 * A line diff of two texts (longest common subsequence; config files are small), as unified
 * hunks with `context` lines around each change.
 */
export function lineDiff(a: string, b: string, name: string, context = 2): string {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: Array<{ op: ' ' | '-' | '+'; text: string; a: number; b: number }> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) ops.push({ op: ' ', text: x[i++]!, a: i, b: ++j });
    else if (j < m && (i === n || lcs[i]![j + 1]! > lcs[i + 1]![j]!))
      ops.push({ op: '+', text: y[j++]!, a: i, b: j });
    else ops.push({ op: '-', text: x[i++]!, a: i, b: j });
  }
  const changed = ops.map((o, k) => (o.op === ' ' ? -1 : k)).filter((k) => k >= 0);
  if (changed.length === 0) return '';
  const lines = [`--- ${name}`, `+++ ${name} (proposed)`];
  let k = 0;
  while (k < changed.length) {
    const start = Math.max(0, changed[k]! - context);
    let end = changed[k]! + context;
    while (k + 1 < changed.length && changed[k + 1]! - context <= end + 1) end = changed[++k]! + context;
    k++;
    const hunk = ops.slice(start, Math.min(ops.length, end + 1));
    const first = hunk[0]!;
    lines.push(`@@ line ${first.op === '+' ? first.a + 1 : first.a} @@`);
    for (const o of hunk) lines.push(`${o.op}${o.text}`);
  }
  return `${lines.join('\n')}\n`;
}
