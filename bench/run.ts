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
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(benches);
  for (const name of names) {
    const load = benches[name];
    if (!load) {
      process.stderr.write(`unknown benchmark "${name}"; available: ${Object.keys(benches).join(', ')}\n`);
      process.exitCode = 2;
      return;
    }
    process.stdout.write(`\n=== bench: ${name} ===\n`);
    await (await load()).run();
  }
}

await main();
