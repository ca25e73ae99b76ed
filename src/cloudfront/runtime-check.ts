/**
 * Static check that a CloudFront Function uses only what JavaScript runtime 2.0 supports and
 * fits CloudFront's 10 KB limit, so a build never produces code CloudFront would refuse at
 * publish time or fail at request time. The feature list follows "JavaScript runtime 2.0
 * features for CloudFront Functions": ES 5.1 plus const/let, arrow functions, template
 * literals, rest parameters, ** and async/await on function declarations; modules crypto,
 * querystring, buffer and cloudfront; no timers, no eval or Function, no dynamic import.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-javascript-runtime-20.html
 */
import { type Node, parse } from 'acorn';
import { MAX_FUNCTION_BYTES } from './build.js';

export const RUNTIME_MODULES = ['crypto', 'querystring', 'buffer', 'cloudfront'] as const;

/**
 * The globals runtime 2.0 lists (core types, built-in objects, error types, "Globals"), plus
 * `require`, `console` and `Buffer` (module helpers the samples use as globals). Any other free
 * identifier (Map, Set, Reflect, Proxy, BigInt, Intl, setTimeout, process, fetch, eval, Function
 * as a constructor, ...) is not there at CloudFront.
 */
const LISTED_GLOBALS = new Set([
  'Object',
  'String',
  'Number',
  'Boolean',
  'Array',
  'RegExp',
  'Date',
  'Math',
  'JSON',
  'Promise',
  'Symbol',
  'ArrayBuffer',
  'DataView',
  'TextDecoder',
  'TextEncoder',
  'console',
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Int16Array',
  'Int32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Uint16Array',
  'Uint32Array',
  'Error',
  'EvalError',
  'InternalError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'TypeError',
  'URIError',
  'globalThis',
  'decodeURI',
  'decodeURIComponent',
  'encodeURI',
  'encodeURIComponent',
  'isFinite',
  'isNaN',
  'parseFloat',
  'parseInt',
  'atob',
  'btoa',
  'NaN',
  'Infinity',
  'undefined',
  'arguments',
  'require',
  'Buffer',
]);

/** Static members of listed globals that the page lists; others on these objects are absent. */
const LISTED_STATICS: Record<string, readonly string[]> = {
  Object: [
    'create',
    'defineProperties',
    'defineProperty',
    'freeze',
    'getOwnPropertyDescriptor',
    'getOwnPropertyDescriptors',
    'getOwnPropertyNames',
    'getPrototypeOf',
    'isExtensible',
    'isFrozen',
    'isSealed',
    'keys',
    'preventExtensions',
    'seal',
    'assign',
    'entries',
    'values',
    'is',
    'setPrototypeOf',
    'prototype',
  ],
  String: ['fromCharCode', 'fromCodePoint', 'prototype'],
  Array: ['isArray', 'of', 'prototype'],
  Promise: ['all', 'allSettled', 'any', 'reject', 'resolve', 'race', 'prototype'],
  Symbol: ['for', 'keyFor', 'iterator', 'prototype'],
  JSON: ['parse', 'stringify'],
  ArrayBuffer: ['isView', 'prototype'],
  Number: [
    'EPSILON',
    'MAX_SAFE_INTEGER',
    'MIN_SAFE_INTEGER',
    'MAX_VALUE',
    'MIN_VALUE',
    'NaN',
    'NEGATIVE_INFINITY',
    'POSITIVE_INFINITY',
    'isFinite',
    'isInteger',
    'isNaN',
    'isSafeInteger',
    'parseInt',
    'parseFloat',
    'prototype',
  ],
};

/** Syntax outside the runtime 2.0 feature list. */
const FORBIDDEN_NODES: Record<string, string> = {
  ClassDeclaration: 'classes',
  ClassExpression: 'classes',
  ForOfStatement: 'for…of',
  ObjectPattern: 'destructuring',
  ArrayPattern: 'destructuring',
  ChainExpression: 'optional chaining',
  ImportExpression: 'dynamic import()',
  ExportNamedDeclaration: 'export',
  ExportDefaultDeclaration: 'export',
  ExportAllDeclaration: 'export',
  WithStatement: 'with',
  YieldExpression: 'generators',
  SpreadElement: 'spread syntax',
  MetaProperty: 'new.target / import.meta',
  PropertyDefinition: 'class fields',
};

export interface CheckProblem {
  message: string;
  line: number;
}

export function checkFunctionSource(source: string): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const bytes = Buffer.byteLength(source);
  if (bytes > MAX_FUNCTION_BYTES)
    problems.push({ message: `${bytes} bytes, over the ${MAX_FUNCTION_BYTES}-byte limit`, line: 0 });
  let ast: Node;
  try {
    ast = parse(source, { ecmaVersion: 2022, sourceType: 'module', locations: true });
  } catch (err) {
    problems.push({ message: `syntax: ${(err as Error).message}`, line: 0 });
    return problems;
  }
  const declared = declaredNames(ast);
  const report = (node: Node, message: string) => problems.push({ message, line: node.loc?.start.line ?? 0 });
  let handler = false;

  const visit = (node: Node, parent: Node | undefined): void => {
    const n = node as Node & Record<string, unknown>;
    const kind = FORBIDDEN_NODES[n.type];
    if (kind) report(node, `${kind} is not supported by the CloudFront runtime`);
    switch (n.type) {
      case 'Identifier': {
        const name = n.name as string;
        if (!declared.has(name) && !LISTED_GLOBALS.has(name) && !isPropertyKey(n, parent))
          report(node, `${name} is not available in CloudFront Functions (not in the runtime 2.0 list)`);
        break;
      }
      case 'MemberExpression': {
        const obj = n.object as Node & { name?: string };
        const prop = n.property as Node & { name?: string };
        const allowed =
          obj.type === 'Identifier' && !declared.has(obj.name ?? '')
            ? LISTED_STATICS[obj.name ?? '']
            : undefined;
        if (allowed && !n.computed && prop.type === 'Identifier' && !allowed.includes(prop.name ?? ''))
          report(
            node,
            `${obj.name}.${prop.name} is not available in CloudFront Functions (not in the runtime 2.0 list)`,
          );
        break;
      }
      case 'Literal':
        if (typeof n.bigint === 'string') report(node, 'BigInt is not supported');
        break;
      case 'LogicalExpression':
        if (n.operator === '??') report(node, 'nullish coalescing (??) is not supported');
        break;
      case 'AssignmentExpression':
        if (['??=', '||=', '&&='].includes(n.operator as string))
          report(node, `${n.operator as string} is not supported`);
        break;
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        if (n.generator) report(node, 'generators are not supported');
        // "async arguments and closures are not supported": only declared functions may be async.
        if (n.async && n.type !== 'FunctionDeclaration')
          report(node, 'async is supported on function declarations only');
        if (
          n.type === 'FunctionDeclaration' &&
          parent?.type === 'Program' &&
          (n.id as { name?: string } | null)?.name === 'handler'
        )
          handler = true;
        break;
      case 'ImportDeclaration': {
        const from = (n.source as { value: unknown }).value;
        if (!RUNTIME_MODULES.includes(from as never))
          report(node, `import of "${String(from)}": not a runtime module`);
        break;
      }
      case 'CallExpression': {
        const callee = n.callee as Node & { name?: string };
        if (callee.type === 'Identifier' && callee.name === 'require') {
          const arg = (n.arguments as Array<Node & { value?: unknown }>)[0];
          if (arg?.type !== 'Literal' || !RUNTIME_MODULES.includes(arg.value as never))
            report(node, 'require() of anything but crypto, querystring, buffer or cloudfront');
        }
        break;
      }
      case 'NewExpression': {
        const callee = n.callee as Node & { name?: string };
        if (callee.type === 'Identifier' && (callee.name === 'Function' || callee.name === 'Proxy'))
          report(node, `new ${callee.name} is not supported`);
        break;
      }
    }
    for (const value of Object.values(n)) {
      if (Array.isArray(value)) {
        for (const v of value) if (isNode(v)) visit(v, node);
      } else if (isNode(value)) visit(value, node);
    }
  };
  visit(ast, undefined);
  if (!handler) problems.push({ message: 'no top-level function handler(event)', line: 0 });
  return problems;
}

/**
 * Every name the source binds anywhere (var/let/const, functions, parameters, catch clauses,
 * imports). Scopes are merged: a name bound in one function and used free in another passes,
 * which errs towards accepting.
 */
function declaredNames(ast: Node): Set<string> {
  const names = new Set<string>();
  const bind = (p: unknown): void => {
    if (!isNode(p)) return;
    const n = p as Node & Record<string, unknown>;
    if (n.type === 'Identifier') names.add(n.name as string);
    else if (n.type === 'AssignmentPattern') bind(n.left);
    else if (n.type === 'RestElement') bind(n.argument);
    else if (n.type === 'ArrayPattern') for (const e of n.elements as unknown[]) bind(e);
    else if (n.type === 'ObjectPattern')
      for (const prop of n.properties as Array<Record<string, unknown>>) bind(prop.value ?? prop.argument);
  };
  const walk = (node: Node): void => {
    const n = node as Node & Record<string, unknown>;
    if (n.type === 'VariableDeclarator') bind(n.id);
    if (
      n.type === 'FunctionDeclaration' ||
      n.type === 'FunctionExpression' ||
      n.type === 'ArrowFunctionExpression'
    ) {
      if (n.id) bind(n.id);
      for (const p of n.params as unknown[]) bind(p);
    }
    if (n.type === 'CatchClause' && n.param) bind(n.param);
    if (n.type === 'ClassDeclaration' && n.id) bind(n.id);
    if (
      n.type === 'ImportDefaultSpecifier' ||
      n.type === 'ImportSpecifier' ||
      n.type === 'ImportNamespaceSpecifier'
    )
      bind(n.local);
    for (const value of Object.values(n)) {
      if (Array.isArray(value)) {
        for (const v of value) if (isNode(v)) walk(v);
      } else if (isNode(value)) walk(value);
    }
  };
  walk(ast);
  return names;
}

function isNode(v: unknown): v is Node {
  return v !== null && typeof v === 'object' && typeof (v as { type?: unknown }).type === 'string';
}

/** `obj.eval`, `{ eval: 1 }` or a label name a property or label, not a global. */
function isPropertyKey(n: Record<string, unknown>, parent: Node | undefined): boolean {
  const p = parent as (Node & Record<string, unknown>) | undefined;
  if (!p) return false;
  if (p.type === 'MemberExpression' && p.property === n && !p.computed) return true;
  if (p.type === 'Property' && p.key === n && !p.computed) return true;
  if ((p.type === 'MethodDefinition' || p.type === 'PropertyDefinition') && p.key === n && !p.computed)
    return true;
  if (p.type === 'LabeledStatement' || p.type === 'BreakStatement' || p.type === 'ContinueStatement')
    return true;
  if (p.type === 'ImportSpecifier' && p.imported === n) return true;
  return false;
}
