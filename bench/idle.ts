/**
 * `npm run bench idle`: the idle effect (issue #20 item 4). A Node process left idle a minute
 * was measured serving 30–50 % slower for minutes afterwards. This bench starts the edge
 * (defaults: viewer functions and access logs on) in front of the bare origin once per V8 flag
 * variant, plus a bare node:http server answering the same 1 KiB from a buffer (the control),
 * measures 1 KiB hits fresh, lets every process idle BENCH_IDLE_MS (60 s), then measures
 * BENCH_IDLE_WINDOWS windows per process. After the idle the processes take turns window by
 * window, and the order rotates each window, so no process is always the first to run after the
 * machine woke up, and every process's windows span the same stretch of time.
 *
 * CPU µs per request (each process tree, from /proc) is the figure to read; req/s moves with
 * whatever else the machine runs. A slowdown that belongs to the process shows as the edge's
 * after-idle ÷ fresh above the control's in the same windows; one that belongs to the machine
 * (other load, a vCPU the host descheduled) moves the control too. The goal column divides the
 * two: (edge after ÷ fresh) ÷ (control after ÷ fresh) ≤ 1.1.
 *
 * Variants (BENCH_IDLE_VARIANTS, '|'-separated flag sets; '-' = none):
 *   - none: Node's defaults;
 *   - --no-flush-bytecode: V8 keeps the bytecode of functions that have not run for a while
 *     (by default a GC ages it and, after a few GCs unused, throws it away);
 *   - --no-memory-reducer: V8 does not start GCs of its own when the process goes quiet.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startBare, type Target } from './anchors.js';
import { startEdgeProcess } from './edge.js';
import { fmt, median, printTable, sleep } from './lib.js';
import { ensureTool, loadAverage, treeCpuUs, wrk } from './tools.js';

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 5);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 60_000);
const WINDOWS = Number(process.env.BENCH_IDLE_WINDOWS ?? 4);
const VARIANTS = (process.env.BENCH_IDLE_VARIANTS ?? '-|--no-flush-bytecode|--no-memory-reducer')
  .split('|')
  .map((v) => v.trim());
const PATH = '/t/1k';
/**
 * Before the fresh 1 KiB window, a window on each of these (as `bench edge` serves 100 KiB and
 * 1 MiB cells before it idles): larger bodies grow V8's heap, which the idle may then shrink.
 */
const WARM_PATHS = (process.env.BENCH_IDLE_WARM_PATHS ?? '/t/100k,/t/1m').split(',').filter(Boolean);

async function window(t: Target, path = PATH): Promise<{ rps: number; cpuUs: number }> {
  const before = treeCpuUs(t.pid);
  const r = await wrk(`${t.url}${path}`, SECONDS, 64);
  if (r.errors > 0 || r.requests === 0) throw new Error(`${t.name}: ${r.errors} errors of ${r.requests}`);
  return { rps: r.rps, cpuUs: (treeCpuUs(t.pid) - before) / r.requests };
}

export async function run(): Promise<void> {
  const tool = ensureTool('wrk', 'wrk');
  if (!tool.ok) {
    process.stdout.write(`idle bench skipped: ${tool.reason}\n`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-bench-idle-'));
  const origin = await startBare('origin');
  const edges: Array<{ flags: string; t: Target }> = [];
  let control: Target | undefined;
  try {
    for (const v of VARIANTS) {
      const flags = v === '-' ? [] : v.split(' ').filter(Boolean);
      const t = await startEdgeProcess(dir, v, origin.url, 1, undefined, undefined, undefined, flags);
      for (const p of [PATH, ...WARM_PATHS]) {
        const primed = await request(`${t.url}${p}`);
        await primed.body.dump();
      }
      edges.push({ flags: v === '-' ? 'none' : v, t });
    }
    process.stdout.write(
      `load average ${loadAverage()}; ${SECONDS} s windows, wrk -t1 -c64, 1 KiB hits after a window on each of ${WARM_PATHS.join(', ') || 'nothing'}; idle ${IDLE_MS / 1000} s\n`,
    );
    control = await startBare('node:http');
    const CONTROL = 'node:http (control)';
    const all = [...edges, { flags: CONTROL, t: control }];
    const fresh = new Map<string, { rps: number; cpuUs: number }>();
    // Two fresh windows each (warm-up, then the measured one), processes interleaved.
    for (const e of all) for (const p of WARM_PATHS) await window(e.t, p);
    for (let round = 0; round < 2; round++)
      for (const e of all) {
        const w = await window(e.t);
        if (round === 1) fresh.set(e.flags, w);
      }
    process.stdout.write(`idling ${IDLE_MS / 1000} s …\n`);
    await sleep(IDLE_MS);
    // After the idle, window k of every process runs in round k, the order rotated each round.
    const after = new Map<string, Array<{ rps: number; cpuUs: number }>>(all.map((e) => [e.flags, []]));
    for (let i = 0; i < WINDOWS; i++)
      for (let k = 0; k < all.length; k++) {
        const e = all[(k + i) % all.length]!;
        after.get(e.flags)!.push(await window(e.t));
      }
    const slow = (flags: string) => median(after.get(flags)!.map((w) => w.cpuUs)) / fresh.get(flags)!.cpuUs;
    const controlSlow = slow(CONTROL);
    const rows: Array<Array<string | number>> = [
      [
        'process',
        'fresh µs/req',
        ...Array.from({ length: WINDOWS }, (_, i) => `after idle, round ${i + 1}`),
        'median after ÷ fresh',
        '÷ control’s',
        'req/s fresh → first',
      ],
    ];
    for (const e of all) {
      const f = fresh.get(e.flags)!;
      const a = after.get(e.flags)!;
      const isControl = e.flags === CONTROL;
      rows.push([
        e.flags,
        fmt(f.cpuUs, 1),
        ...a.map((w) => fmt(w.cpuUs, 1)),
        slow(e.flags).toFixed(2),
        isControl
          ? '—'
          : `${(slow(e.flags) / controlSlow).toFixed(2)} ${slow(e.flags) / controlSlow <= 1.1 ? 'met' : 'NOT met'}`,
        `${fmt(f.rps, 0)} → ${fmt(a[0]!.rps, 0)}`,
      ]);
    }
    printTable(
      `Idle effect: CPU µs per 1 KiB hit, fresh and after ${IDLE_MS / 1000} s idle (goal: the edge's after ÷ fresh within 1.1× the control's); load average ${loadAverage()}`,
      rows,
    );
  } finally {
    for (const e of edges) await e.t.stop();
    await control?.stop();
    await origin.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
