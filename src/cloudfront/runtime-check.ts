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

/** Globals that exist in Node or browsers but not in the CloudFront runtime (or are code generation). */
const FORBIDDEN_GLOBALS = new Set([
  'eval',
  'Function',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
  'queueMicrotask',
  'process',
  'global',
  'globalThis',
  'fetch',
  'XMLHttpRequest',
  'WebAssembly',
  'importScripts',
  'module',
  'exports',
  '__dirname',
  '__filename',
]);

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
  const report = (node: Node, message: string) => problems.push({ message, line: node.loc?.start.line ?? 0 });
  let handler = false;

  const visit = (node: Node, parent: Node | undefined): void => {
    const n = node as Node & Record<string, unknown>;
    const kind = FORBIDDEN_NODES[n.type];
    if (kind) report(node, `${kind} is not supported by the CloudFront runtime`);
    switch (n.type) {
      case 'Identifier':
        if (FORBIDDEN_GLOBALS.has(n.name as string) && !isPropertyKey(n, parent))
          report(node, `${n.name as string} is not available in CloudFront Functions`);
        break;
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

function isNode(v: unknown): v is Node {
  return v !== null && typeof v === 'object' && typeof (v as { type?: unknown }).type === 'string';
}

/** `obj.eval` or `{ eval: 1 }` name a property, not the global. */
function isPropertyKey(n: Record<string, unknown>, parent: Node | undefined): boolean {
  const p = parent as (Node & Record<string, unknown>) | undefined;
  if (!p) return false;
  if (p.type === 'MemberExpression' && p.property === n && !p.computed) return true;
  if (p.type === 'Property' && p.key === n && !p.computed) return true;
  return false;
}
