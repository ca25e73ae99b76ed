/**
 * The `#Fields` header of a W3C-format CloudFront log and how one tab-separated record lines up
 * with it.
 *
 * CloudFront has grown its standard log from 12 fields (2012) to 33, always by appending at
 * the end "to keep backward compatibility", and standard logging v2 lets a distribution pick
 * any subset in any order; real-time logs name some fields differently (`cs-host` for
 * `cs(Host)`). So a header is read by name, and a record whose value count differs from the
 * header is read by the header where that is unambiguous:
 * - more values than names, the extra ones empty: a trailing tab (AWS's own documented
 *   example has one on its third record) — the extra values are dropped;
 * - fewer values than names, all the fields the worker needs present: a record written in
 *   an older, shorter layout, or a short last record — the absent trailing fields are empty.
 * Anything else is a record the parser cannot place, rejected with the reason.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html
 */

/** Real-time log (and v2) spellings of standard-log fields, mapped to the standard name. */
const ALIASES: Readonly<Record<string, string>> = {
  'cs-host': 'cs(Host)',
  'cs-user-agent': 'cs(User-Agent)',
  'cs-referer': 'cs(Referer)',
  'cs-cookie': 'cs(Cookie)',
};

/** The name a header field is read under. */
export function canonicalField(name: string): string {
  return ALIASES[name] ?? name;
}

/** Fields without which a record means nothing to the worker (a time is needed too). */
const REQUIRED = ['cs-method', 'cs-uri-stem', 'sc-status'] as const;
const TIME_FIELDS = [['timestamp(ms)'], ['timestamp'], ['date', 'time']] as const;

export interface FieldLayout {
  /** Names as the header gave them, canonicalised. */
  names: string[];
  index: Map<string, number>;
  /** Values a record needs at least: one past the last required field. */
  minValues: number;
}

/**
 * Reads a `#Fields:` line (names separated by spaces or tabs). Returns the layout, or why it
 * cannot be used (a duplicate name, or none of the fields the worker needs: an RTMP
 * distribution's log has no cs-method or sc-status).
 */
export function readFieldsHeader(line: string): FieldLayout | string {
  const names = line
    .slice('#Fields:'.length)
    .trim()
    .split(/\s+/)
    .filter((n) => n !== '')
    .map(canonicalField);
  if (new Set(names).size !== names.length) return 'unusable #Fields header: a field is named twice';
  const missing: string[] = REQUIRED.filter((f) => !names.includes(f));
  const clock = TIME_FIELDS.find((set) => set.every((f) => names.includes(f)));
  if (!clock) missing.push('date and time (or timestamp)');
  if (missing.length > 0 || !clock) return `unusable #Fields header: no ${missing.join(', ')}`;
  return layout(names, [...REQUIRED, ...clock]);
}

function layout(names: string[], needed: readonly string[]): FieldLayout {
  const index = new Map(names.map((f, i) => [f, i]));
  const minValues = Math.max(...needed.map((f) => index.get(f) ?? 0)) + 1;
  return { names, index, minValues };
}

/** The layout used before any `#Fields` line: CloudFront's 33 fields in order. */
export function defaultLayout(names: readonly string[]): FieldLayout {
  return layout([...names], [...REQUIRED, 'date', 'time']);
}

/**
 * Lines a record's values up with the layout: the values, padded or trimmed to the header's
 * length, or the reason the record cannot be read by it.
 */
export function alignValues(cols: string[], l: FieldLayout): string[] | string {
  const want = l.names.length;
  if (cols.length === want) return cols;
  if (cols.length > want) {
    for (let i = want; i < cols.length; i++) {
      if (cols[i] !== '')
        return `${cols.length} tab-separated values for ${want} #Fields names, and the extra values are not empty`;
    }
    return cols.slice(0, want);
  }
  if (cols.length < l.minValues) {
    const missing = l.names[cols.length] ?? '';
    return `${cols.length} tab-separated values for ${want} #Fields names: the record ends before ${missing}`;
  }
  return cols;
}
