/**
 * Interim responses through the edge (RFC 9110 §15.2): a 102 or 103 from the origin reaches
 * the viewer whose request caused the origin fetch, before the final response, and is never
 * stored (RFC 9111 §3: only final responses are). CloudFront documents neither; browsers act on
 * 103 Early Hints (RFC 8297) to preload while the origin still works. Other 1xx codes are the
 * connection's business (100 Continue, 101 upgrades) and are not relayed.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { ViewerResponse } from './context.js';
import { HOP_BY_HOP, type StoredHeaders } from './entry.js';
import type { InterimListener } from './origin-client.js';

interface InterimWriter {
  headersSent: boolean;
  writeEarlyHints?: (hints: Record<string, string | string[]>) => void;
  writeProcessing?: () => void;
}

export function forwardInterim(res: ViewerResponse): InterimListener {
  const out = res as unknown as InterimWriter;
  return (status: number, headers: StoredHeaders) => {
    if (out.headersSent) return;
    if (status === 102) out.writeProcessing?.();
    else if (status === 103 && out.writeEarlyHints) {
      const hints: OutgoingHttpHeaders = {};
      for (const k in headers) if (!HOP_BY_HOP.has(k)) hints[k] = headers[k];
      out.writeEarlyHints(hints as Record<string, string | string[]>);
    }
  };
}
