/**
 * A dynamic read-set for one CloudFront Function run: the event the function gets is wrapped in
 * proxies that record every field it reads (get, `in`, own-property lookups, key enumeration)
 * and every field it writes (set, delete, define), mapped onto named *sources* of the viewer's
 * request (`u` the URI, `q` the query, `h:accept` one header, …) by the event type's `classify`.
 *
 * Why this makes reuse sound: a function that is deterministic (no clock, no randomness, no
 * state of its own that changes; src/edge/pipeline/function-memo.ts says which functions those
 * are) and that, run on request A, read only the sources R, runs step for step the same on any
 * request B with the same values for R: every read returns what it returned on A, so every
 * branch, every write and the result are the same. Recording is per run (each run gets its own
 * proxies), so concurrent runs do not mix. Anything the mapping cannot name precisely (the
 * whole header map enumerated, a prototype changed, a field with no source) makes the run
 * not reusable rather than guessed at.
 */

/** What `classify` says about one access: a source or slot name, `null` (a constant), or `false` (not reusable). */
export type Classified = string | null | false;

export type Classify = (path: readonly string[], op: 'read' | 'keys' | 'write') => Classified;

export class RunTrace {
  /** Sources read, in first-read order. */
  readonly reads = new Set<string>();
  /** Slots written, in first-write order. */
  readonly writes = new Set<string>();
  /**
   * Writes in order as [slot, kind, depth] (depth: the length of the written path, so 3 is a
   * key of a map such as response.headers): what decides the output's key order.
   */
  readonly ops: Array<[string, 'set' | 'delete', number]> = [];
  /** Why the run cannot be reused, when it cannot. */
  unusable: string | undefined;
  #on = true;
  readonly #classify: Classify;
  readonly #proxies = new WeakMap<object, object>();
  readonly #byPath = new Map<string, object>();

  constructor(classify: Classify) {
    this.#classify = classify;
  }

  /** Stops recording: what the runtime does with the result afterwards is not the function's doing. */
  stop(): void {
    this.#on = false;
  }

  /** The proxy handed out for `target` (created on first access, one per object). */
  wrap<T extends object>(target: T, path: readonly string[]): T {
    const known = this.#proxies.get(target);
    if (known) return known as T;
    const proxy = new Proxy(target, this.#handler(path)) as T;
    this.#proxies.set(target, proxy);
    if (path.length <= 1) this.#byPath.set(path.join('.'), proxy);
    return proxy;
  }

  /** The proxy handed out for a top-level field (`request`, `response`), to test a result's identity. */
  proxyAt(field: string): object | undefined {
    return this.#byPath.get(field);
  }

  #note(path: readonly string[], op: 'read' | 'keys' | 'write'): void {
    if (!this.#on || this.unusable) return;
    const c = this.#classify(path, op);
    if (c === false) this.unusable = `${op} of ${path.join('.')}`;
    else if (c !== null) (op === 'write' ? this.writes : this.reads).add(c);
  }

  #handler(path: readonly string[]): ProxyHandler<object> {
    const at = (k: string | symbol) => [...path, typeof k === 'symbol' ? k.toString() : k];
    return {
      get: (t, k) => {
        const v = Reflect.get(t, k);
        // Symbol lookups are the engine's own protocol checks (iteration, toStringTag): no data.
        if (typeof k !== 'symbol') this.#note(at(k), 'read');
        return v !== null && typeof v === 'object' && typeof k !== 'symbol' ? this.wrap(v, at(k)) : v;
      },
      has: (t, k) => {
        if (typeof k !== 'symbol') this.#note(at(k), 'read');
        return Reflect.has(t, k);
      },
      ownKeys: (t) => {
        this.#note(path, 'keys');
        return Reflect.ownKeys(t);
      },
      getOwnPropertyDescriptor: (t, k) => {
        const d = Reflect.getOwnPropertyDescriptor(t, k);
        // A descriptor hands out the raw value: an object escaping that way is read whole.
        const v = d?.value;
        if (typeof k !== 'symbol') this.#note(at(k), v !== null && typeof v === 'object' ? 'keys' : 'read');
        return d;
      },
      set: (t, k, v) => {
        if (typeof k !== 'symbol') this.#op(at(k), 'set');
        else this.#note(at(k), 'write');
        return Reflect.set(t, k, v);
      },
      deleteProperty: (t, k) => {
        if (typeof k !== 'symbol') this.#op(at(k), 'delete');
        else this.#note(at(k), 'write');
        return Reflect.deleteProperty(t, k);
      },
      defineProperty: (t, k, d) => {
        if (typeof k !== 'symbol') this.#op(at(k), 'set');
        else this.#note(at(k), 'write');
        return Reflect.defineProperty(t, k, d);
      },
      setPrototypeOf: (t, p) => {
        this.#note([...path, '[[Prototype]]'], 'write');
        this.unusable ??= 'prototype changed';
        return Reflect.setPrototypeOf(t, p);
      },
      preventExtensions: (t) => {
        this.unusable ??= 'object made non-extensible';
        return Reflect.preventExtensions(t);
      },
    };
  }

  #op(path: readonly string[], kind: 'set' | 'delete'): void {
    if (!this.#on || this.unusable) return;
    const c = this.#classify(path, 'write');
    if (c === false) {
      this.unusable = `write of ${path.join('.')}`;
      return;
    }
    if (c === null) return;
    this.writes.add(c);
    this.ops.push([c, kind, path.length]);
  }
}

/**
 * Sources of a viewer-request event (functions-event-structure):
 *   m request.method · u request.uri · q request.querystring (any part) · c request.cookies (any
 *   part) · h:<name> request.headers[name] (any part, `in` included) · ip viewer.ip ·
 *   dd context.distributionDomainName; version and context.eventType are constants.
 * Writable slots: u and q. A read of context.requestId (unique per request), an enumeration of
 * the header map or of context, or a write anywhere else makes the run not reusable.
 */
export const classifyViewerRequest: Classify = (p, op) => {
  const [top, field, name] = p;
  if (op === 'write') {
    if (top === 'request' && field === 'uri' && p.length === 2) return 'u';
    if (top === 'request' && field === 'querystring') return 'q';
    return false;
  }
  if (p.length === 0) return op === 'keys' ? null : false; // the event's own keys are fixed
  if (top === 'version') return null;
  if (top === 'viewer') {
    if (p.length === 1) return op === 'keys' ? false : null;
    return field === 'ip' ? 'ip' : false;
  }
  if (top === 'context') {
    if (p.length === 1) return op === 'keys' ? false : null;
    if (field === 'eventType') return null;
    if (field === 'distributionDomainName') return 'dd';
    return false;
  }
  if (top === 'request') {
    if (p.length === 1) return null; // request's keys: method, uri, querystring, headers, cookies
    if (field === 'method') return p.length === 2 ? 'm' : false;
    if (field === 'uri') return p.length === 2 ? 'u' : false;
    if (field === 'querystring') return 'q';
    if (field === 'cookies') return 'c';
    if (field === 'headers') {
      if (name === undefined) return op === 'keys' ? false : null;
      return `h:${name}`;
    }
    return null; // absent fields of the request read as undefined whatever the viewer sent
  }
  return null; // absent fields of the event
};

/**
 * Sources of a viewer-response event: s response.statusCode · rh:<name> response.headers[name] ·
 * rc response.cookies · u request.uri · m request.method · ip viewer.ip; the status
 * description, version and context are constants. Writable slots: rh:<name> and s. Reading
 * the request's query, headers or cookies makes the run not reusable (the edge does not keep
 * the function's request object on a reused run, only the URI), as do enumerating the
 * response's header map and writing its cookies.
 */
export const classifyViewerResponse: Classify = (p, op) => {
  const [top, field, name] = p;
  if (op === 'write') {
    if (top === 'response' && field === 'headers' && name !== undefined) return `rh:${name}`;
    if (top === 'response' && field === 'statusCode' && p.length === 2) return 's';
    return false;
  }
  if (p.length === 0) return op === 'keys' ? null : false;
  if (top === 'version') return null;
  if (top === 'context')
    return p.length <= 2 && (field === undefined || field === 'eventType') ? null : false;
  if (top === 'viewer') {
    if (p.length === 1) return op === 'keys' ? false : null;
    return field === 'ip' ? 'ip' : false;
  }
  if (top === 'request') {
    if (p.length === 1) return null;
    if (field === 'uri') return p.length === 2 ? 'u' : false;
    if (field === 'method') return p.length === 2 ? 'm' : false;
    return false;
  }
  if (top === 'response') {
    if (p.length === 1) return null; // statusCode, statusDescription, headers, cookies
    if (field === 'statusCode') return p.length === 2 ? 's' : false;
    if (field === 'statusDescription') return p.length === 2 ? null : false;
    if (field === 'cookies') return 'rc';
    if (field === 'headers') {
      if (name === undefined) return op === 'keys' ? false : null;
      return `rh:${name}`;
    }
    return null;
  }
  return null;
};
