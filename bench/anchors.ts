/**
 * The reference servers the edge bench compares with, each in its own processes on
 * 127.0.0.1: a bare node:http server answering from preallocated buffers (also the origin
 * behind every cache), Varnish 7 (malloc storage, long default TTL) and nginx proxy_cache
 * (HTTP/1.1, and HTTP/2 over TLS for the h2 cell).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Agent, type Dispatcher, request } from 'undici';
import { sleep } from './lib.js';

export interface Target {
  name: string;
  url: string;
  /** Root pid of the process tree to charge CPU to. */
  pid: number;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Polls until the URL answers (any status), bounded by a deadline. */
export async function waitUp(
  url: string,
  child: ChildProcess,
  what: string,
  dispatcher?: Dispatcher,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  for (;;) {
    if (exited !== undefined) throw new Error(`${what} exited (${exited}) before answering`);
    try {
      const r = await request(url, {
        headersTimeout: 2000,
        bodyTimeout: 2000,
        ...(dispatcher ? { dispatcher } : {}),
      });
      await r.body.dump();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${what} did not answer ${url} within ${ms} ms`);
      await sleep(100);
    }
  }
}

function stopper(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill(signal);
    });
}

/** bench/bare-server.js (or another origin script answering /__count) in a child process. */
export async function startBare(
  name: string,
  script = 'bare-server.js',
): Promise<Target & { originRequests(): Promise<number> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(import.meta.dirname, script), String(port)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(`${url}/__count`, child, name);
  return {
    name,
    url,
    pid: child.pid!,
    stop: stopper(child),
    async originRequests() {
      const r = await request(`${url}/__count`);
      return Number(await r.body.text());
    },
  };
}

/** varnishd -F with -b (the built-in VCL), malloc storage, default TTL an hour; `cpus` pins it. */
export async function startVarnish(
  dir: string,
  originUrl: string,
  cpus: string | undefined,
): Promise<Target> {
  const port = await freePort();
  const work = join(dir, `varnish-${port}`);
  mkdirSync(work, { recursive: true });
  const args = [
    '-F',
    '-a',
    `127.0.0.1:${port}`,
    '-b',
    new URL(originUrl).host,
    '-s',
    'malloc,512m',
    '-t',
    '3600',
    '-n',
    work,
  ];
  const child = cpus
    ? spawn('taskset', ['-c', cpus, 'varnishd', ...args], { stdio: 'ignore' })
    : spawn('varnishd', args, { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(`${url}/__count`, child, 'varnishd');
  return { name: 'Varnish', url, pid: child.pid!, stop: stopper(child) };
}

/** nginx proxy_cache in front of the origin: HTTP/1.1, plus HTTP/2 over TLS when cert is given. */
export async function startNginx(
  dir: string,
  originUrl: string,
  workers: number,
  tls: { cert: string; key: string },
): Promise<{ h1: Target; h2: Target }> {
  const port = await freePort();
  const tlsPort = await freePort();
  const work = join(dir, `nginx-${port}`);
  mkdirSync(join(work, 'cache'), { recursive: true });
  const location = `
      location / {
        proxy_pass ${originUrl};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_cache z;
        proxy_cache_valid 200 1h;
        proxy_cache_lock on;
        add_header X-Cache-Status $upstream_cache_status;
      }`;
  // Access logging off: Varnish does not log either (varnishncsa is a separate process).
  // As root nginx's workers would run as nobody and could not read the private temp folder.
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  const conf = `
daemon off;
${user}
worker_processes ${workers};
pid ${work}/nginx.pid;
error_log ${work}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${work}/body;
  proxy_temp_path ${work}/proxy;
  fastcgi_temp_path ${work}/fastcgi;
  uwsgi_temp_path ${work}/uwsgi;
  scgi_temp_path ${work}/scgi;
  proxy_cache_path ${work}/cache levels=1:2 keys_zone=z:16m max_size=2g inactive=1d use_temp_path=off;
  server { listen 127.0.0.1:${port}; ${location} }
  server {
    listen 127.0.0.1:${tlsPort} ssl http2;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    http2_max_concurrent_streams 128;
    ${location}
  }
}
`;
  writeFileSync(join(work, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', work, '-c', join(work, 'nginx.conf')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(`${url}/__count`, child, 'nginx');
  const stop = stopper(child, 'SIGQUIT');
  return {
    h1: { name: 'nginx', url, pid: child.pid!, stop },
    h2: { name: 'nginx h2', url: `https://127.0.0.1:${tlsPort}`, pid: child.pid!, stop },
  };
}

/** bench/bare-h2-server.js: bare node:http2 over TLS (core stream API), `workers` processes. */
export async function startBareH2(tls: { cert: string; key: string }, workers: number): Promise<Target> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, 'bare-h2-server.js'), String(port), tls.cert, tls.key, String(workers)],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `https://127.0.0.1:${port}`;
  // It speaks only h2: wait with an agent that negotiates it and trusts the self-signed cert.
  const agent = new Agent({ allowH2: true, connect: { rejectUnauthorized: false } });
  await waitUp(`${url}/t/1k`, child, 'node:http2', agent).finally(() => agent.close());
  return { name: 'node:http2', url, pid: child.pid!, stop: stopper(child) };
}
