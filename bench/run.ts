/**
 * `npm run bench [name …]`: runs the named benchmarks (all when none is named). Each module
 * exports `run(): Promise<void>` and prints its own table with ratios against a baseline
 * measured in the same run.
 */
const benches: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  serving: () => import('./serving.js'),
  images: () => import('./images.js'),
  edge: () => import('./edge.js'),
  idle: () => import('./idle.js'),
  memory: () => import('./memory.js'),
  prefetch: () => import('./prefetch.js'),
  uploads: () => import('./uploads.js'),
  cloudfront: () => import('./cloudfront.js'),
  ttl: () => import('./ttl.js'),
  soak: () => import('./soak.js'),
  'cache-policy': () => import('./cache-policy.js'),
};

/**
 * On a terminal, a status line on stderr says which benchmark runs and for how long (most
 * cannot know their total in advance); stdout's own lines clear it first so the two never
 * interleave. Piped or logged output gets no status line.
 */
function statusLine(): { show(name: string): void; stop(): void } {
  if (process.stderr.isTTY !== true) return { show() {}, stop() {} };
  let name = '';
  let started = 0;
  let shown = false;
  const clear = () => {
    if (shown) process.stderr.write('\r\x1b[2K');
    shown = false;
  };
  const write = process.stdout.write.bind(process.stdout) as (...a: unknown[]) => boolean;
  process.stdout.write = ((...a: unknown[]) => {
    clear();
    return write(...a);
  }) as typeof process.stdout.write;
  const timer = setInterval(() => {
    const s = Math.round((performance.now() - started) / 1000);
    process.stderr.write(
      `\r\x1b[2K[bench ${name}] running ${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`,
    );
    shown = true;
  }, 1000);
  timer.unref();
  return {
    show(n) {
      name = n;
      started = performance.now();
    },
    stop() {
      clearInterval(timer);
      clear();
    },
  };
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(benches);
  const status = statusLine();
  for (const name of names) {
    const load = benches[name];
    if (!load) {
      process.stderr.write(`unknown benchmark "${name}"; available: ${Object.keys(benches).join(', ')}\n`);
      process.exitCode = 2;
      return;
    }
    process.stdout.write(`\n=== bench: ${name} ===\n`);
    status.show(name);
    await (await load()).run();
  }
  status.stop();
}

await main();
