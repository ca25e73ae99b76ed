/**
 * For tests at the response-hook seam of the compiled hit head (src/edge/hit-head.ts), over
 * HTTP/1.1 (hit-head.test.ts) and HTTP/2 (h2.test.ts): a hand-made viewer-response hook and a
 * memory-tier entry, no server.
 */
import type { StoredHeaders } from '../../src/edge/entry.js';
import type { MemoryEntry } from '../../src/edge/hit-head.js';
import type { HookResult, ResponseHook } from '../../src/edge/respond.js';

/** A memory-tier entry answering 200 `hello` with these stored headers. */
export function entryWith(headers: StoredHeaders): MemoryEntry {
  const body = Buffer.from('hello');
  return { headers, status: 200, body, size: body.length } as MemoryEntry;
}

/** A hand-made hook with one remembered result: it sets x-fn; runs and replays are counted. */
export function countingHook() {
  const token = {};
  const calls = { replay: 0, run: 0 };
  const hook = Object.assign(
    (_ctx: unknown, status: number, headers: Record<string, unknown>): HookResult => {
      calls.run++;
      return { status, headers: { ...headers, 'x-fn': 'ran' } as HookResult['headers'] };
    },
    {
      known: () => token,
      replay: (_t: object, status: number, headers: HookResult['headers']): HookResult => {
        calls.replay++;
        return { status, headers: { ...headers, 'x-fn': 'replayed' } };
      },
    },
  ) as ResponseHook;
  return { hook, calls };
}
