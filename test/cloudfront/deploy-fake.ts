/**
 * A hand-written loopback fake of the two CloudFront APIs `edgewise cloudfront deploy` and
 * `kvs sync` call, a seam fake at the HTTP boundary: the real @aws-sdk clients talk to it over
 * 127.0.0.1 (pointed at it with AWS_ENDPOINT_URL_CLOUDFRONT /
 * AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE and static credentials).
 *
 * Control plane (REST-XML, https://docs.aws.amazon.com/cloudfront/latest/APIReference/):
 * CreateFunction, DescribeFunction, GetFunction, UpdateFunction, TestFunction, PublishFunction,
 * ListKeyValueStores. Each function has a DEVELOPMENT and (once published) a LIVE stage, each
 * with its own ETag; UpdateFunction/TestFunction/PublishFunction demand the DEVELOPMENT ETag in
 * If-Match and answer 412 PreconditionFailed otherwise (400 InvalidIfMatchVersion without one),
 * as CloudFront does. TestFunction runs the DEVELOPMENT code with the local runtime and the
 * fake KVS contents of the associated store; `testOutput` lets a test make "CloudFront" answer
 * differently.
 *
 * Data plane (REST-JSON): DescribeKeyValueStore, ListKeys, UpdateKeys, with the store's ETag in
 * the ETag header and If-Match on UpdateKeys (409 ConflictException on a stale one).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CfEvent, loadViewerFunction } from '../../src/cloudfront/runtime.js';

const NS = 'http://cloudfront.amazonaws.com/doc/2020-05-31/';

interface Stage {
  code: string;
  comment: string;
  runtime: string;
  kvsArns: string[];
  etag: string;
  modified: Date;
}

interface FakeFunction {
  name: string;
  created: Date;
  dev: Stage;
  live?: Stage;
}

export interface FakeCall {
  op: string;
  name?: string;
  ifMatch?: string;
  stage?: string;
  accessKeyId?: string;
  /** The Authorization scheme: AWS4-HMAC-SHA256 (SigV4) or AWS4-ECDSA-P256-SHA256 (SigV4A). */
  scheme?: string;
  /** The SigV4 credential scope's region (SigV4A has none: its region set is a header). */
  region?: string;
}

export interface FakeKvs {
  name: string;
  id: string;
  arn: string;
  etag: string;
  items: Map<string, string>;
}

const etag = () => `E${randomBytes(6).toString('hex').toUpperCase()}`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The text of the first <tag>…</tag> in `xml` (the SDK's request bodies are small and flat). */
function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m?.[1] === undefined ? undefined : unesc(m[1]);
}
function tags(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => unesc(m[1]!));
}
const unesc = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

export class FakeCloudFront {
  readonly functions = new Map<string, FakeFunction>();
  readonly stores: FakeKvs[] = [];
  readonly calls: FakeCall[] = [];
  /** Replaces TestFunction's FunctionOutput (a real CloudFront that disagrees with us). */
  testOutput: ((name: string, output: string) => string) | undefined;
  /** Makes TestFunction report this FunctionErrorMessage (the function threw at CloudFront). */
  testError: ((name: string) => string | undefined) | undefined;
  /** Another writer updates this function's DEVELOPMENT stage just before our next call to it. */
  concurrentWriteTo: string | undefined;
  #server: Server;
  endpoint = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.#handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(err.stack);
        });
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.endpoint = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.endpoint;
  }

  close(): Promise<void> {
    return new Promise((r) => this.#server.close(() => r()));
  }

  addKvs(name: string, id: string, account = '123456789012'): FakeKvs {
    const kvs: FakeKvs = {
      name,
      id,
      arn: `arn:aws:cloudfront::${account}:key-value-store/${id}`,
      etag: etag(),
      items: new Map(),
    };
    this.stores.push(kvs);
    return kvs;
  }

  ops(): string[] {
    return this.calls.map((c) => c.op);
  }

  async #handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = url.pathname;
    const path = decodeURIComponent(raw);
    const ifMatch = req.headers['if-match'] as string | undefined;
    const auth = String(req.headers.authorization ?? '');
    const accessKeyId = /Credential=([^/]+)\//.exec(auth)?.[1];
    const scheme = auth.split(' ')[0];
    const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(auth)?.[1];
    if (!accessKeyId) return this.#xmlError(res, 403, 'MissingAuthenticationToken', 'Request is not signed');
    const call = (op: string, extra: Partial<FakeCall> = {}) =>
      this.calls.push({ op, accessKeyId, scheme, region, ifMatch, ...extra });

    // ---- data plane (cloudfront-keyvaluestore) ----
    const kv = /^\/key-value-stores\/([^/]+)(\/keys)?$/.exec(raw);
    if (kv) {
      const arn = decodeURIComponent(kv[1]!);
      const store = this.stores.find((s) => s.arn === arn);
      if (!store) return this.#jsonError(res, 404, 'ResourceNotFoundException', `no store ${arn}`);
      if (!kv[2] && req.method === 'GET') {
        call('DescribeKeyValueStore');
        return this.#json(
          res,
          200,
          { ETag: store.etag },
          {
            ItemCount: store.items.size,
            TotalSizeInBytes: [...store.items].reduce((n, [k, v]) => n + k.length + v.length, 0),
            KvsARN: store.arn,
            Created: 1_700_000_000,
            Status: 'READY',
          },
        );
      }
      if (kv[2] && req.method === 'GET') {
        call('ListKeys');
        const all = [...store.items].map(([Key, Value]) => ({ Key, Value }));
        const start = Number(url.searchParams.get('NextToken') ?? 0);
        const max = Number(url.searchParams.get('MaxResults') ?? 2);
        const page = all.slice(start, start + max);
        const next = start + max < all.length ? String(start + max) : undefined;
        return this.#json(res, 200, {}, { Items: page, ...(next ? { NextToken: next } : {}) });
      }
      if (kv[2] && req.method === 'POST') {
        call('UpdateKeys');
        if (ifMatch !== store.etag)
          return this.#jsonError(
            res,
            409,
            'ConflictException',
            'The ETag does not match the current version',
          );
        const input = JSON.parse(body) as {
          Puts?: Array<{ Key: string; Value: string }>;
          Deletes?: Array<{ Key: string }>;
        };
        for (const d of input.Deletes ?? []) store.items.delete(d.Key);
        for (const p of input.Puts ?? []) store.items.set(p.Key, p.Value);
        store.etag = etag();
        return this.#json(
          res,
          200,
          { ETag: store.etag },
          { ItemCount: store.items.size, TotalSizeInBytes: 0 },
        );
      }
    }

    // ---- control plane (cloudfront, REST-XML) ----
    if (path === '/2020-05-31/key-value-store' && req.method === 'GET') {
      call('ListKeyValueStores');
      const items = this.stores
        .map(
          (s) =>
            `<KeyValueStore><Name>${s.name}</Name><Id>${s.id}</Id><Comment></Comment><ARN>${s.arn}</ARN><Status>READY</Status><LastModifiedTime>2026-12-01T00:00:00Z</LastModifiedTime></KeyValueStore>`,
        )
        .join('');
      return this.#xml(
        res,
        200,
        {},
        `<KeyValueStoreList xmlns="${NS}"><MaxItems>100</MaxItems><Quantity>${this.stores.length}</Quantity><Items>${items}</Items></KeyValueStoreList>`,
      );
    }
    if (path === '/2020-05-31/function' && req.method === 'POST') {
      const name = tag(body, 'Name') ?? '';
      call('CreateFunction', { name });
      if (this.functions.has(name))
        return this.#xmlError(
          res,
          409,
          'FunctionAlreadyExists',
          `A function with the name ${name} already exists`,
        );
      const fn: FakeFunction = { name, created: new Date(), dev: this.#stage(body) };
      this.functions.set(name, fn);
      return this.#xml(
        res,
        201,
        { ETag: fn.dev.etag, Location: `${this.endpoint}/2020-05-31/function/${name}` },
        this.#summary(fn, 'DEVELOPMENT'),
      );
    }
    const m = /^\/2020-05-31\/function\/([^/]+)(?:\/(describe|test|publish))?$/.exec(path);
    if (!m) return this.#xmlError(res, 404, 'NotFound', `no route ${req.method} ${path}`);
    const name = m[1]!;
    const fn = this.functions.get(name);
    const stage = url.searchParams.get('Stage') ?? 'LIVE';
    const action = m[2] ?? (req.method === 'GET' ? 'get' : req.method === 'PUT' ? 'update' : '');
    const op = {
      describe: 'DescribeFunction',
      get: 'GetFunction',
      update: 'UpdateFunction',
      test: 'TestFunction',
      publish: 'PublishFunction',
    }[action];
    if (!op) return this.#xmlError(res, 405, 'MethodNotAllowed', `${req.method} ${path}`);
    call(op, {
      name,
      stage:
        action === 'test'
          ? tag(body, 'Stage')
          : action === 'describe' || action === 'get'
            ? stage
            : undefined,
    });
    const s =
      fn &&
      (action === 'describe' || action === 'get' ? (stage === 'DEVELOPMENT' ? fn.dev : fn.live) : fn.dev);
    if (!fn || !s)
      return this.#xmlError(res, 404, 'NoSuchFunctionExists', `The function ${name} does not exist`);
    if (action === 'describe') return this.#xml(res, 200, { ETag: s.etag }, this.#summary(fn, stage));
    if (action === 'get') {
      res.writeHead(200, { ETag: s.etag, 'content-type': 'application/octet-stream' });
      res.end(s.code);
      return;
    }
    if (this.concurrentWriteTo === name && action !== 'describe' && action !== 'get') {
      this.concurrentWriteTo = undefined;
      fn.dev = { ...fn.dev, etag: etag(), modified: new Date() };
    }
    // Mutations and tests name the DEVELOPMENT version they act on.
    if (ifMatch === undefined)
      return this.#xmlError(
        res,
        400,
        'InvalidIfMatchVersion',
        'The If-Match version is missing or not valid for the resource.',
      );
    if (ifMatch !== fn.dev.etag)
      return this.#xmlError(
        res,
        412,
        'PreconditionFailed',
        'The precondition given in one or more of the request-header fields evaluated to false.',
      );
    if (action === 'update') {
      fn.dev = this.#stage(body);
      // UpdateFunction's ETag comes back in the `ETtag` header (sic, the API model's spelling).
      return this.#xml(res, 200, { ETtag: fn.dev.etag }, this.#summary(fn, 'DEVELOPMENT'));
    }
    if (action === 'publish') {
      fn.live = { ...fn.dev, etag: etag(), modified: new Date() };
      return this.#xml(res, 200, {}, this.#summary(fn, 'LIVE'));
    }
    // TestFunction
    const testStage = tag(body, 'Stage') === 'LIVE' ? fn.live : fn.dev;
    if (!testStage)
      return this.#xmlError(res, 404, 'NoSuchFunctionExists', `The function ${name} is not published`);
    const event = JSON.parse(
      Buffer.from(tag(body, 'EventObject') ?? '', 'base64').toString('utf8'),
    ) as CfEvent;
    const store = this.stores.find((k) => testStage.kvsArns.includes(k.arn));
    const run = loadViewerFunction(testStage.code, {
      kvs: store ? { id: store.id, get: (k) => store.items.get(k) } : undefined,
    });
    const r = await run.run(event);
    let output = '';
    let error = '';
    if (r.kind === 'request') output = JSON.stringify({ request: r.request });
    else if (r.kind === 'response') output = JSON.stringify({ response: r.response });
    else error = r.reason;
    if (this.testOutput && output) output = this.testOutput(name, output);
    const injected = this.testError?.(name);
    if (injected) {
      output = '';
      error = injected;
    }
    return this.#xml(
      res,
      200,
      {},
      `<TestResult xmlns="${NS}">${this.#summaryInner(fn, 'DEVELOPMENT')}<ComputeUtilization>12</ComputeUtilization><FunctionExecutionLogs></FunctionExecutionLogs><FunctionErrorMessage>${esc(error)}</FunctionErrorMessage><FunctionOutput>${esc(output)}</FunctionOutput></TestResult>`,
    );
  }

  #stage(body: string): Stage {
    const config = tag(body, 'FunctionConfig') ?? '';
    return {
      code: Buffer.from(tag(body, 'FunctionCode') ?? '', 'base64').toString('utf8'),
      comment: tag(config, 'Comment') ?? '',
      runtime: tag(config, 'Runtime') ?? '',
      kvsArns: tags(config, 'KeyValueStoreARN'),
      etag: etag(),
      modified: new Date(),
    };
  }

  #summaryInner(fn: FakeFunction, stage: string): string {
    const s = stage === 'LIVE' && fn.live ? fn.live : fn.dev;
    const assoc =
      s.kvsArns.length > 0
        ? `<KeyValueStoreAssociations><Quantity>${s.kvsArns.length}</Quantity><Items>${s.kvsArns.map((a) => `<KeyValueStoreAssociation><KeyValueStoreARN>${a}</KeyValueStoreARN></KeyValueStoreAssociation>`).join('')}</Items></KeyValueStoreAssociations>`
        : '';
    return `<FunctionSummary><Name>${fn.name}</Name><Status>${fn.live ? 'DEPLOYED' : 'UNPUBLISHED'}</Status><FunctionConfig><Comment>${esc(s.comment)}</Comment><Runtime>${s.runtime}</Runtime>${assoc}</FunctionConfig><FunctionMetadata><FunctionARN>arn:aws:cloudfront::123456789012:function/${fn.name}</FunctionARN><Stage>${stage}</Stage><CreatedTime>${fn.created.toISOString()}</CreatedTime><LastModifiedTime>${s.modified.toISOString()}</LastModifiedTime></FunctionMetadata></FunctionSummary>`;
  }

  #summary(fn: FakeFunction, stage: string): string {
    return this.#summaryInner(fn, stage).replace('<FunctionSummary>', `<FunctionSummary xmlns="${NS}">`);
  }

  #xml(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
    res.writeHead(status, { ...headers, 'content-type': 'text/xml', 'x-amz-request-id': 'fake' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  }

  #xmlError(res: ServerResponse, status: number, code: string, message: string): void {
    this.#xml(
      res,
      status,
      {},
      `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${esc(message)}</Message></Error><RequestId>fake</RequestId></ErrorResponse>`,
    );
  }

  #json(res: ServerResponse, status: number, headers: Record<string, string>, body: object): void {
    res.writeHead(status, { ...headers, 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  #jsonError(res: ServerResponse, status: number, type: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
    res.end(JSON.stringify({ Message: message }));
  }
}
