/**
 * Reuse of a viewer function's result for requests that are the same in every field the function
 * read (docs/edge.md, "Function-result reuse").
 *
 * A run that may be reused is run fresh with its event behind recording proxies
 * (src/cloudfront/runtime-trace.ts); its read-set R (sources such as `u`, `q`, `h:accept`) and
 * the values the request had for them make the key, its effect (what it answered, or which
 * fields it rewrote and to what) the value. A later request is looked up once per distinct
 * read-set seen so far: a match means every field the recorded run read has the same value, so
 * the function would run exactly the same again. Keys carry each value length-prefixed, so two
 * different value lists can never spell the same key.
 *
 * Bounded: at most `maxEntries` results per function (the oldest goes first) and `maxShapes`
 * distinct read-sets (a function whose read-set keeps changing stops being remembered, and just
 * runs). Only functions edgewise built from the running config are reused at all
 * (viewer-functions.ts), and a reload that rebuilds them starts empty memos.
 */

/** A source's value as a key fragment: type tag, length, bytes; no two values share one. */
export function encodeSource(value: string | number | readonly string[] | undefined): string {
  if (value === undefined) return '\u0000u';
  if (typeof value === 'number') return `\u0000n${value}`;
  if (typeof value === 'string') return `\u0000s${value.length}:${value}`;
  let out = `\u0000a${value.length}`;
  for (const v of value) out += `\u0000s${v.length}:${v}`;
  return out;
}

/** An own field of a header object (a header named `constructor` is not Object's constructor). */
export function own<T>(headers: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(headers, name) ? headers[name] : undefined;
}

export class FunctionMemo<A, V> {
  readonly #shapes: string[][] = [];
  readonly #shapeIds = new Map<string, number>();
  readonly #entries = new Map<string, V>();
  readonly #read: (arg: A, source: string) => string;
  readonly #maxEntries: number;
  readonly #maxShapes: number;

  constructor(read: (arg: A, source: string) => string, maxEntries = 4096, maxShapes = 16) {
    this.#read = read;
    this.#maxEntries = maxEntries;
    this.#maxShapes = maxShapes;
  }

  get size(): number {
    return this.#entries.size;
  }

  lookup(arg: A): V | undefined {
    const shapes = this.#shapes;
    for (let i = 0; i < shapes.length; i++) {
      const v = this.#entries.get(this.#key(i, shapes[i]!, arg));
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** Remembers `value` for requests whose `sources` have the values `arg` has. */
  remember(sources: Iterable<string>, arg: A, value: V): void {
    const shape = [...sources].sort();
    const id = shape.join('\n');
    let i = this.#shapeIds.get(id);
    if (i === undefined) {
      if (this.#shapes.length >= this.#maxShapes) return;
      i = this.#shapes.length;
      this.#shapes.push(shape);
      this.#shapeIds.set(id, i);
    }
    const key = this.#key(i, shape, arg);
    if (!this.#entries.has(key) && this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
  }

  #key(i: number, shape: readonly string[], arg: A): string {
    let key = String(i);
    for (const s of shape) key += this.#read(arg, s);
    return key;
  }
}
