/**
 * The resumable half of `npm run bench uploads`: a 200 MiB file over a lossy mobile link
 * (bench/lossy-link.ts: RTT, per-connection rate from the loss rate, shared capacity, cuts),
 * sent by the resumable protocol (parts in parallel, resume from the listed parts) and by one
 * streamed PUT, to origins in child processes with the fs driver and the s3 driver (s3rver).
 *
 * Printed, each with its goal:
 *   - throughput, resumable ÷ single PUT, same link (goal > 1: parallel parts win back what
 *     loss costs one connection);
 *   - after each cut: time from the link's return until the client had listed the stored
 *     parts and was sending the missing ones, and the bytes sent twice, in parts (goal ≤ 1
 *     part per cut). Parts in parallel lose the progress of every part in flight; one part at
 *     a time (what Uppy 6 does for one file) loses at most one, at one connection's speed;
 *     both are measured;
 *   - s3 driver: bytes the origin carried and origin CPU per uploaded GiB (goal: no part bytes
 *     through the origin — only the protocol's JSON).
 * Bounded: every upload has a deadline; the file size, link and cut count come from
 * variables (below) and nothing repeats without end.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { startS3rver } from '../test/helpers/s3rver.js';
import { printTable } from './lib.js';
import { type LinkModel, LossyLink, mathisRate } from './lossy-link.js';
import { routedAgent, uploadResumable, uploadSinglePut } from './resumable-client.js';

const MiB = 1024 * 1024;
const env = process.env;
const SIZE = Number(env.EDGEWISE_BENCH_RESUMABLE_MIB ?? 200) * MiB;
const PART = 8 * MiB;
const CONCURRENCY = Number(env.EDGEWISE_BENCH_RESUMABLE_PARALLEL ?? 6);
const CUTS = Number(env.EDGEWISE_BENCH_RESUMABLE_CUTS ?? 2);
const DOWN_MS = 2_000;
const DEADLINE_MS = 600_000;
/** A good 4G uplink: 20 ms RTT, 0.1 % loss, 16 MiB/s shared. */
const LINK: LinkModel = {
  rttMs: Number(env.EDGEWISE_BENCH_LINK_RTT_MS ?? 20),
  lossRate: Number(env.EDGEWISE_BENCH_LINK_LOSS ?? 0.001),
  mssBytes: 1448,
  capacityBytesPerSec: Number(env.EDGEWISE_BENCH_LINK_MIBPS ?? 16) * MiB,
};

export interface OriginChild {
  url: string;
  child: { pid?: number };
  stop(): Promise<void>;
}

/** user + system CPU of a process, in ms (from /proc; clock ticks are 100 Hz on Linux). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function sha256Of(url: string): Promise<string> {
  const res = await request(url);
  const h = createHash('sha256');
  for await (const chunk of res.body) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function linkTo(url: string): Promise<LossyLink> {
  const u = new URL(url);
  return LossyLink.start(LINK, { host: u.hostname, port: Number(u.port) });
}

const portOf = (url: string) => Number(new URL(url).port);

export async function runResumable(
  startOrigin: (storage: 'fs' | 's3', s3?: { bucket: string; endpoint: string }) => Promise<OriginChild>,
  apiKey: string,
): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'edgewise-bench-resumable-'));
  const file = join(work, 'upload.bin');
  await pipeline(
    (async function* () {
      for (let left = SIZE; left > 0; left -= MiB) yield randomBytes(Math.min(MiB, left));
    })(),
    createWriteStream(file),
  );
  const want = createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
  const s3 = await startS3rver();
  const fsOrigin = await startOrigin('fs');
  const s3Origin = await startOrigin('s3', s3);
  const links: LossyLink[] = [];
  const rows: Array<Array<string | number>> = [
    [
      'case',
      'driver',
      'time',
      'MiB/s',
      'vs single PUT',
      'cuts',
      'resume after link back (ms)',
      'sent twice (parts)',
      'SHA-256',
    ],
  ];
  const perFlow = mathisRate(LINK) / MiB;
  process.stdout.write(
    `\nlink: RTT ${LINK.rttMs} ms, loss ${(LINK.lossRate * 100).toFixed(2)} % → ${perFlow.toFixed(2)} MiB/s per connection (Mathis), ` +
      `${(LINK.capacityBytesPerSec / MiB).toFixed(0)} MiB/s shared; cuts reset every connection and refuse new ones for ${DOWN_MS} ms\n` +
      `file ${SIZE / MiB} MiB; resumable: ${PART / MiB} MiB parts, ${CONCURRENCY} in parallel; single: one streamed PUT\n`,
  );
  try {
    // One case = fresh links (fresh byte counts) in front of the origin and of S3.
    const runCase = async (
      name: string,
      origin: OriginChild,
      kind: 'resumable' | 'single',
      cuts: number,
      parallel = CONCURRENCY,
    ) => {
      const originLink = await linkTo(origin.url);
      const s3Link = await linkTo(s3.endpoint);
      links.push(originLink, s3Link);
      const dispatcher = routedAgent(
        new Map([
          [portOf(origin.url), originLink.port],
          [portOf(s3.endpoint), s3Link.port],
        ]),
      );
      const key = `bench/resumable/${name.replace(/\W+/g, '-')}.bin`;
      const expected =
        SIZE /
        (kind === 'single' ? perFlow * MiB : Math.min(LINK.capacityBytesPerSec, perFlow * MiB * parallel));
      const cutTimes = Array.from({ length: cuts }, (_, i) => ((i + 1) / (cuts + 1)) * expected * 1000);
      const t0 = performance.now();
      const backAt = cutTimes.map((t) => t0 + t + DOWN_MS);
      const timers = cutTimes.map((t) =>
        setTimeout(() => {
          originLink.cut(DOWN_MS);
          s3Link.cut(DOWN_MS);
        }, t),
      );
      const cpu0 = await cpuMsOf(origin.child.pid!);
      try {
        if (kind === 'single') {
          const r = await uploadSinglePut({
            url: `${origin.url}/uploads/${key}`,
            apiKey,
            file,
            size: SIZE,
            dispatcher,
            deadlineMs: DEADLINE_MS,
          });
          return {
            ms: r.ms,
            key,
            resumes: [] as number[],
            originLink,
            s3Link,
            cpuMs: (await cpuMsOf(origin.child.pid!)) - cpu0,
          };
        }
        const r = await uploadResumable({
          endpoint: `${origin.url}/uploads/resumable`,
          apiKey,
          file,
          size: SIZE,
          filename: key.split('/').pop()!,
          type: 'application/octet-stream',
          partSize: PART,
          concurrency: parallel,
          dispatcher,
          deadlineMs: DEADLINE_MS,
        });
        // Time from the link's return until the client had listed the stored parts and was
        // sending the missing ones: the first resume at or after each return.
        const resumes = backAt.map((back) => (r.resumedAt.find((at) => at >= back) ?? Number.NaN) - back);
        return {
          ms: r.ms,
          key: r.key,
          resumes,
          originLink,
          s3Link,
          cpuMs: (await cpuMsOf(origin.child.pid!)) - cpu0,
        };
      } finally {
        for (const t of timers) clearTimeout(t);
        await dispatcher.close();
      }
    };

    const single = await runCase('single fs', fsOrigin, 'single', 0);
    const cases = [
      { name: 'single PUT', driver: 'fs' as const, r: single, cuts: 0 },
      {
        name: 'resumable',
        driver: 'fs' as const,
        r: await runCase('resumable fs', fsOrigin, 'resumable', 0),
        cuts: 0,
      },
      {
        name: 'resumable',
        driver: 'fs' as const,
        r: await runCase('resumable fs cuts', fsOrigin, 'resumable', CUTS),
        cuts: CUTS,
      },
      {
        name: 'resumable',
        driver: 's3' as const,
        r: await runCase('resumable s3', s3Origin, 'resumable', 0),
        cuts: 0,
      },
      {
        name: 'resumable',
        driver: 's3' as const,
        r: await runCase('resumable s3 cuts', s3Origin, 'resumable', CUTS),
        cuts: CUTS,
      },
      {
        // What Uppy 6 does: the parts of one file one after another. At most the part in
        // flight is lost to a cut, at one connection's speed.
        name: 'resumable, 1 part at a time',
        driver: 'fs' as const,
        r: await runCase('resumable fs sequential cuts', fsOrigin, 'resumable', CUTS, 1),
        cuts: CUTS,
      },
      {
        name: 'single PUT',
        driver: 'fs' as const,
        r: await runCase('single fs cut', fsOrigin, 'single', 1),
        cuts: 1,
      },
    ];
    for (const c of cases) {
      const origin = c.driver === 'fs' ? fsOrigin : s3Origin;
      const carried = c.r.originLink.up.bytes + c.r.s3Link.up.bytes;
      const twice = Math.max(0, carried - SIZE);
      const got = await sha256Of(`${origin.url}/${c.r.key}`);
      rows.push([
        c.name,
        c.driver,
        `${(c.r.ms / 1000).toFixed(1)} s`,
        SIZE / MiB / (c.r.ms / 1000),
        (single.ms / c.r.ms).toFixed(2),
        String(c.cuts),
        c.r.resumes.length ? c.r.resumes.map((ms) => ms.toFixed(0)).join(', ') : c.cuts ? 'starts over' : '—',
        c.cuts === 0 ? (twice / PART).toFixed(2) : `${(twice / PART / c.cuts).toFixed(2)} per cut`,
        got === want ? 'matches' : 'DIFFERS',
      ]);
      if (c.driver === 's3' && c.cuts === 0) {
        const gib = SIZE / (1024 * MiB);
        const originBytes = c.r.originLink.up.bytes + c.r.originLink.down.bytes;
        printTable('s3 driver, resumable: what the origin carried', [
          ['per uploaded GiB', 'origin bytes (both ways)', 'S3 bytes (up)', 'origin CPU', 'goal'],
          [
            `${gib.toFixed(3)} GiB sent`,
            `${(originBytes / gib / 1024).toFixed(1)} KiB`,
            `${(c.r.s3Link.up.bytes / gib / MiB).toFixed(0)} MiB`,
            `${(c.r.cpuMs / gib).toFixed(0)} ms`,
            originBytes < PART ? 'met: no part bytes through the origin' : 'NOT met',
          ],
        ]);
      }
    }
    printTable(
      'Resumable (parts in parallel, resume from listed parts) vs one streamed PUT, same lossy link. Goals: resumable > 1× single; ≤ 1 part sent twice per cut; SHA-256 matches',
      rows,
    );
  } finally {
    for (const l of links) await l.close();
    await fsOrigin.stop();
    await s3Origin.stop();
    await s3.close();
    await rm(work, { recursive: true, force: true });
  }
}
