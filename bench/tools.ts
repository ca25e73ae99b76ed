/**
 * External load generators and anchors for the benchmarks: finding (or installing) Debian
 * tools, running wrk and h2load bounded in time, and the CPU time a process tree used,
 * read from /proc, so every server under test — node, Varnish, nginx — is charged the same way.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A tool from a Debian package: found on PATH, else installed with apt-get (root only), else a reason. */
export function ensureTool(bin: string, pkg: string): { ok: true } | { ok: false; reason: string } {
  const has = () => {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (has()) return { ok: true };
  if (process.getuid?.() !== 0)
    return { ok: false, reason: `${bin} missing (apt-get install ${pkg} needs root)` };
  if (process.env.BENCH_NO_INSTALL === '1')
    return { ok: false, reason: `${bin} missing; BENCH_NO_INSTALL=1` };
  process.stdout.write(`installing ${pkg} (for ${bin}) …\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore', env, timeout: 300_000 });
  } catch {
    try {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
      execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore', env, timeout: 300_000 });
    } catch (err) {
      return { ok: false, reason: `apt-get install ${pkg} failed: ${(err as Error).message.split('\n')[0]}` };
    }
  }
  return has() ? { ok: true } : { ok: false, reason: `${pkg} installed but ${bin} not on PATH` };
}

const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

/** pid → parent pid for every process, from /proc. */
function parents(): Map<number, number> {
  const m = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // Field 2 (comm) may contain spaces: parse after its closing parenthesis.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      m.set(Number(d), Number(rest[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  return m;
}

/** The pid and all its descendants. */
export function processTree(root: number): number[] {
  const pp = parents();
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of pp) if (ppid === out[i]) out.push(pid);
  return out;
}

/** User + system CPU time of a process tree in µs (all threads; reaped children included). */
export function treeCpuUs(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime are fields 14–17 (indices 11–14 after comm and state).
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // Ended between listing and reading.
    }
  }
  return ticks * TICK_US;
}

export interface LoadRun {
  rps: number;
  requests: number;
  /** Failed, non-2xx/3xx or errored requests. */
  errors: number;
  p50Ms: number;
  p99Ms: number;
}

function run(bin: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function ms(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

/** wrk -t1 -cN -dS --latency: HTTP/1.1 keep-alive, bounded by -d and a hard timeout. */
export async function wrk(url: string, seconds: number, connections: number): Promise<LoadRun> {
  const out = await run(
    'wrk',
    ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', url],
    (seconds + 30) * 1000,
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const sockErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const pct = (p: string) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s|m)`).exec(out);
    return m ? ms(m[1]!, m[2]!) : Number.NaN;
  };
  return { rps, requests, errors: non2xx + sockErrors, p50Ms: pct('50'), p99Ms: pct('99') };
}

/** h2load over TLS (ALPN h2), bounded by -D and a hard timeout. */
export async function h2load(
  url: string,
  seconds: number,
  clients: number,
  streams: number,
): Promise<LoadRun> {
  const out = await run(
    'h2load',
    [`-c${clients}`, `-m${streams}`, `-D${seconds}`, '-t1', url],
    (seconds + 30) * 1000,
  );
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? Number.NaN);
  const r =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
      out,
    );
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const done = Number(r?.[3] ?? 0);
  const errors =
    Number(r?.[5] ?? 0) + Number(r?.[6] ?? 0) + Number(status?.[3] ?? 0) + Number(status?.[4] ?? 0);
  // h2load reports mean and sd of request time, not percentiles; the mean stands in for p50.
  const t = /time for request:\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)/.exec(out);
  return { rps, requests: done, errors, p50Ms: t ? ms(t[1]!, t[2]!) : Number.NaN, p99Ms: Number.NaN };
}

/** The 1-minute load average, printed with every figure (the machine is shared). */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
