/**
 * Reads the first bytes of a stream without losing them: returns them, and the stream with
 * those bytes pushed back in front (`unshift`), so the body flows on with no extra hop and
 * backpressure intact (nothing beyond about `bytes` is held).
 */
import { PassThrough, Readable } from 'node:stream';

export async function peek(source: Readable, bytes: number): Promise<{ head: Buffer; body: Readable }> {
  const chunks: Buffer[] = [];
  let have = 0;
  await new Promise<void>((resolve, reject) => {
    const onReadable = () => {
      while (have < bytes) {
        const chunk = source.read() as Buffer | null;
        if (chunk === null) break;
        chunks.push(chunk);
        have += chunk.length;
      }
      if (have >= bytes) done();
    };
    const onEnd = () => done();
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      source.off('readable', onReadable);
      source.off('end', onEnd);
      source.off('error', onError);
      source.off('close', onEnd);
    };
    const done = () => {
      cleanup();
      resolve();
    };
    // The source may have ended or failed before we were handed it (e.g. a multipart part
    // whose form broke while we awaited something else): its events are already past.
    if (source.errored) return onError(source.errored);
    if (source.destroyed || source.readableEnded) return resolve();
    source.on('readable', onReadable);
    source.once('end', onEnd);
    source.once('close', onEnd);
    source.once('error', onError);
  });
  const head = Buffer.concat(chunks);
  let body: Readable;
  if (source.readableEnded) body = Readable.from(head.length > 0 ? [head] : []);
  else if (source.destroyed) {
    body = new PassThrough();
    body.destroy(source.errored ?? new Error('the body stream closed before its end'));
  } else {
    // Put the bytes back in front of the stream: no extra stream hop for the rest of the body.
    if (head.length > 0) source.unshift(head);
    body = source;
  }
  return { head: head.subarray(0, bytes), body };
}
