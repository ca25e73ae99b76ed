/**
 * The conformance suite against the in-memory driver: the seam's contract with no server and
 * no disk. Plus the memory driver's own bound.
 */
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { createMetrics, instrumentStorage } from '../../src/metrics.js';
import { cleanupIncomplete } from '../../src/storage/cleanup.js';
import { FsDriver } from '../../src/storage/fs.js';
import { MemoryDriver } from '../../src/storage/memory.js';
import { storageDriverTests } from './conformance.js';

describe('memory driver', () => {
  storageDriverTests(async () => {
    const driver = new MemoryDriver();
    return {
      driver,
      // A put holds its body only until it settles: nothing can be left behind.
      leftovers: async () => 0,
      cleanup: () => driver.close(),
    };
  });

  test('the store is bounded: a put beyond maxTotalBytes fails with 503 and frees what it took', async () => {
    const driver = new MemoryDriver({ maxTotalBytes: 10_000 });
    await driver.put('a', Readable.from([Buffer.alloc(6000)]), { contentType: 'application/octet-stream' });
    await expect(
      driver.put('b', Readable.from([Buffer.alloc(3000), Buffer.alloc(3000)]), {
        contentType: 'application/octet-stream',
      }),
    ).rejects.toMatchObject({ code: 'EDGEWISE_STORAGE_UNAVAILABLE', statusCode: 503 });
    expect(await driver.head('b')).toBeUndefined();
    // The failed put's 3000 bytes were released; deleting `a` frees the rest.
    await driver.put('c', Readable.from([Buffer.alloc(4000)]), { contentType: 'application/octet-stream' });
    expect(await driver.delete('a')).toBe(true);
    await driver.put('d', Readable.from([Buffer.alloc(6000)]), { contentType: 'application/octet-stream' });
    expect((await driver.head('d'))!.size).toBe(6000);
  });

  test('capabilities are asked for, not classes: none here, so cleanup says so; the metrics wrapper passes them on', async () => {
    const memory = new MemoryDriver();
    await expect(cleanupIncomplete(memory, { olderThanMs: 1 })).rejects.toThrow(
      'storage driver memory has no cleanup of unfinished writes',
    );
    const metrics = createMetrics();
    expect(instrumentStorage(memory, metrics).cleanupIncomplete).toBeUndefined();
    const fs = new FsDriver({ dataDir: '/nonexistent-edgewise-test' });
    // No I/O: the folder is read only when cleanup runs.
    expect(instrumentStorage(fs, metrics).cleanupIncomplete).toBe(fs.cleanupIncomplete);
  });
});
