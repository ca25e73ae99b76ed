/**
 * Source and realm preparation for the local CloudFront Functions runtime.
 *
 * `toScript` turns runtime 2.0's module syntax (`import cf from 'cloudfront'`, `import crypto
 * from 'crypto'`) into `require` calls on the same line, so the source runs as a script (the
 * handler stays a global) with unchanged line numbers, in strict mode as CloudFront runs it.
 *
 * `restrictGlobals` removes from the function's realm the built-ins that "JavaScript runtime 2.0
 * features for CloudFront Functions" does not list, so a function that relies on one fails
 * locally as it would at CloudFront. Prototype methods reached through objects of the host realm
 * (none: the event is rebuilt inside the realm) are not affected.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-javascript-runtime-20.html
 */

import { type Context, Script } from 'node:vm';
import { type Node, parse } from 'acorn';

interface ImportNode extends Node {
  source: { value: unknown };
  specifiers: Array<{ type: string; local: { name: string }; imported?: { name?: string; value?: string } }>;
}

export function toScript(source: string): string {
  let ast: Node & { body: Node[] };
  try {
    ast = parse(source, { ecmaVersion: 2022, sourceType: 'module' }) as Node & { body: Node[] };
  } catch {
    return `"use strict";${source}`; // the Script compile reports the syntax error
  }
  let out = '';
  let at = 0;
  for (const node of ast.body) {
    if (node.type !== 'ImportDeclaration') continue;
    const imp = node as ImportNode;
    const from = JSON.stringify(String(imp.source.value));
    const parts = imp.specifiers.map((s) => {
      if (s.type === 'ImportSpecifier') {
        const name = s.imported?.name ?? s.imported?.value ?? s.local.name;
        return `var ${s.local.name} = require(${from})[${JSON.stringify(name)}];`;
      }
      // Default and namespace imports both give the module object (its `default` is itself).
      return `var ${s.local.name} = require(${from});`;
    });
    out += source.slice(at, node.start) + (parts.length > 0 ? parts.join(' ') : `require(${from});`);
    at = node.end;
  }
  return `"use strict";${out}${source.slice(at)}`;
}

/** Globals of V8/Node that runtime 2.0 does not list. */
const UNLISTED_GLOBALS = [
  'Map',
  'Set',
  'WeakMap',
  'WeakSet',
  'WeakRef',
  'FinalizationRegistry',
  'Proxy',
  'Reflect',
  'BigInt',
  'BigInt64Array',
  'BigUint64Array',
  'Float16Array',
  'Intl',
  'SharedArrayBuffer',
  'Atomics',
  'AggregateError',
  'Iterator',
  'escape',
  'unescape',
  'WebAssembly',
];

/** Static and prototype methods present in V8 but absent from the runtime 2.0 lists. */
const UNLISTED_MEMBERS: Record<string, string[]> = {
  Object: ['fromEntries', 'getOwnPropertySymbols', 'hasOwn', 'groupBy'],
  Array: ['from', 'fromAsync'],
  String: ['raw'],
  Promise: ['withResolvers', 'try'],
  'Array.prototype': [
    'at',
    'flat',
    'flatMap',
    'findLast',
    'findLastIndex',
    'toSorted',
    'toReversed',
    'toSpliced',
    'with',
    'keys',
    'values',
    'entries',
  ],
  'String.prototype': ['at', 'matchAll', 'normalize', 'localeCompare', 'isWellFormed', 'toWellFormed'],
};

const RESTRICT = new Script(
  `(function (globals, members) {
    var g = globalThis;
    globals.forEach(function (n) { delete g[n]; });
    Object.keys(members).forEach(function (path) {
      var target = path.split('.').reduce(function (o, k) { return o[k]; }, g);
      members[path].forEach(function (m) { delete target[m]; });
    });
  })`,
  { filename: 'cloudfront-realm.js' },
);

export function restrictGlobals(context: Context): void {
  (RESTRICT.runInContext(context) as (g: string[], m: Record<string, string[]>) => void)(
    UNLISTED_GLOBALS,
    UNLISTED_MEMBERS,
  );
}

/**
 * "Date always returns the same value—the function's start time—during the lifetime of a single
 * function run": `Date.now()` and `new Date()` in the realm read `start()`, which the runtime
 * sets when a run begins (from the host clock, so vitest fake timers reach it).
 */
const CLOCK = new Script(
  `(function (start) {
    var RealDate = Date;
    var construct = Reflect.construct;
    function CfDate() {
      if (!new.target) return new RealDate(start()).toString();
      return arguments.length === 0 ? new RealDate(start()) : construct(RealDate, arguments, new.target);
    }
    CfDate.prototype = RealDate.prototype;
    CfDate.now = function now() { return start(); };
    CfDate.parse = RealDate.parse;
    CfDate.UTC = RealDate.UTC;
    Object.defineProperty(RealDate.prototype, 'constructor', { value: CfDate, writable: true, configurable: true });
    globalThis.Date = CfDate;
  })`,
  { filename: 'cloudfront-clock.js' },
);

export function installRunClock(context: Context, start: () => number): void {
  (CLOCK.runInContext(context) as (s: () => number) => void)(start);
}

const RANDOM = new Script(
  `(function (note) {
    var real = Math.random;
    Math.random = function random() { note(); return real(); };
  })`,
  { filename: 'cloudfront-random.js' },
);

/** Math.random in the realm calls `note` first (and still returns a random number). */
export function noteRandom(context: Context, note: () => void): void {
  (RANDOM.runInContext(context) as (n: () => void) => void)(note);
}
