/**
 * The one node:http internal the edge relies on, kept here alone: ServerResponse#_header.
 *
 * writeHead() serialises the head into `_header` (a latin1 string: status line, fields, the
 * Connection/Keep-Alive/Date fields Node decides on, blank line) and the first write sends it
 * with the body in one writev. A compiled hit head (hit-head.ts) is already serialised and its
 * values checked, so the edge gives writeHead only Content-Length (what Node's keep-alive rules
 * read), and puts its own lines in place of that one line in `_header` before the body is
 * written. Node still decides the status line, keep-alive, Connection: close for HTTP/1.0 and
 * Date; it no longer validates and concatenates 15 fields per hit (~7 % of a hit's CPU).
 *
 * `_header` has been a plain string property set by writeHead and read on the first write since
 * Node 0.x, and access-record.ts reads it too. Node changing it is caught three ways: RAW_HEADS
 * probes it once at start (off: hits use writeHead with the whole list), writeRawHead checks the
 * string it replaces and throws rather than send a head it does not recognise, and
 * test/edge/raw-head.test.ts pins what is relied on.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

/**
 * Fields whose presence changes what Node adds after the application's fields (matchHeader in
 * node's _http_outgoing.js): a head with any of them is sent through writeHead. Content-Length
 * and Date are handled: the former is what writeHead is given, the latter turns sendDate off.
 */
export const FRAMING_FIELDS: ReadonlySet<string> = new Set([
  'connection',
  'transfer-encoding',
  'keep-alive',
  'trailer',
  'expect',
  'te',
]);

type RawResponse = { _header?: unknown };

function probe(): boolean {
  try {
    const req = new IncomingMessage(new Socket());
    req.method = 'GET';
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    const res = new ServerResponse(req);
    res.sendDate = false;
    res.writeHead(200, ['content-length', '1']);
    const h = (res as unknown as RawResponse)._header;
    return typeof h === 'string' && h.startsWith('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n');
  } catch {
    return false;
  }
}

/** Whether this Node keeps the serialised head in `_header` until the first write. */
export const RAW_HEADS: boolean = probe();

/**
 * writeHead with `lines` (serialised `name: value\r\n` fields, Content-Length among them, every
 * value already checked) as the head's fields. `sendDate` false when `lines` has a Date.
 */
export function writeRawHead(
  res: ServerResponse,
  status: number,
  lines: string,
  length: string,
  sendDate: boolean,
): void {
  res.sendDate = sendDate;
  res.writeHead(status, ['content-length', length]);
  const r = res as unknown as RawResponse;
  const sent = r._header;
  const cl = `content-length: ${length}\r\n`;
  const at = typeof sent === 'string' ? sent.indexOf('\r\n') + 2 : 0;
  if (typeof sent !== 'string' || at < 2 || !sent.startsWith(cl, at))
    throw new Error(
      'node:http no longer serialises the response head into ServerResponse#_header as src/edge/raw-head.ts expects',
    );
  r._header = sent.slice(0, at) + lines + sent.slice(at + cl.length);
}
