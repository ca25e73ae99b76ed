import { request } from 'undici';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { TransformFn } from '../../src/images/transform.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';
import { photoJpeg, put } from './fixtures.js';

/** A hand-written fake at the transform seam: counts calls and holds them until released. */
function gatedTransform(real: TransformFn) {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const calls: string[] = [];
  const fn: TransformFn = async (job) => {
    calls.push(`${job.spec.w}`);
    await gate;
    return real(job);
  };
  return { fn, calls, release };
}

async function fetchStatus(o: TestOrigin, path: string) {
  const res = await request(`${o.url}${path}`);
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

// Generous timeouts: the machine running the suite may be heavily loaded; nothing here is timed.
describe('single flight and the bounded queue', { timeout: 60_000 }, () => {
  let o: TestOrigin | undefined;
  afterEach(async () => {
    await o?.close();
    o = undefined;
  });

  test('N concurrent requests for one variant run one transform and all get it', async () => {
    o = await startTestOrigin();
    const origin = o;
    await put(origin.storage, 'p.jpg', await photoJpeg(600, 400));
    const gated = gatedTransform(origin.app.images.transform);
    origin.app.images.transform = gated.fn;
    const N = 12;
    const pending = Array.from({ length: N }, () => fetchStatus(origin, '/img/p.jpg?w=256&fmt=webp'));
    // Every request has reached the service (one is transforming, the rest joined it).
    await vi.waitFor(() => expect(origin.app.images.stats.joined).toBe(N - 1), { timeout: 30_000 });
    gated.release();
    const results = await Promise.all(pending);
    expect(gated.calls).toHaveLength(1);
    expect(origin.app.images.stats.transforms).toBe(1);
    expect(origin.app.images.stats.stored).toBe(1);
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([200]));
    expect(new Set(results.map((r) => r.headers.etag)).size).toBe(1);
    expect(results.every((r) => r.body.equals(results[0]!.body))).toBe(true);
    expect(origin.app.images.inFlight).toBe(0);
  });

  test('a failed flight is not remembered: the next request tries again', async () => {
    o = await startTestOrigin();
    const origin = o;
    await put(origin.storage, 'p.jpg', await photoJpeg(100, 100));
    const real = origin.app.images.transform;
    let calls = 0;
    origin.app.images.transform = async (job) => {
      calls++;
      if (calls === 1)
        throw Object.assign(new Error('disk on fire'), {
          code: 'EDGEWISE_STORAGE_UNAVAILABLE',
          statusCode: 503,
        });
      return real(job);
    };
    expect((await fetchStatus(origin, '/img/p.jpg?w=64&fmt=png')).status).toBe(503);
    expect((await fetchStatus(origin, '/img/p.jpg?w=64&fmt=png')).status).toBe(200);
    expect(calls).toBe(2);
  });

  test('a full queue answers 503 with Retry-After; queued work still completes', async () => {
    o = await startTestOrigin({ images: { concurrency: 1, queueSize: 1, retryAfterSeconds: 7 } });
    const origin = o;
    await put(origin.storage, 'p.jpg', await photoJpeg(300, 200));
    const gated = gatedTransform(origin.app.images.transform);
    origin.app.images.transform = gated.fn;
    const running = fetchStatus(origin, '/img/p.jpg?w=16&fmt=png');
    await vi.waitFor(() => expect(origin.app.images.queue.running).toBe(1), { timeout: 30_000 });
    const queued = fetchStatus(origin, '/img/p.jpg?w=32&fmt=png');
    await vi.waitFor(() => expect(origin.app.images.queue.waiting).toBe(1), { timeout: 30_000 });
    const refused = await fetchStatus(origin, '/img/p.jpg?w=48&fmt=png');
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('7');
    expect(JSON.parse(refused.body.toString()).code).toBe('EDGEWISE_IMAGE_BUSY');
    // A request for a variant already in flight joins it instead of taking a slot.
    const joiner = fetchStatus(origin, '/img/p.jpg?w=32&fmt=png');
    await vi.waitFor(() => expect(origin.app.images.stats.joined).toBe(1), { timeout: 30_000 });
    gated.release();
    const done = await Promise.all([running, queued, joiner]);
    expect(done.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(gated.calls).toEqual(['16', '32']);
    expect(origin.app.images.queue.running).toBe(0);
    // Once there is room again the refused variant is made.
    expect((await fetchStatus(origin, '/img/p.jpg?w=48&fmt=png')).status).toBe(200);
  });
});
