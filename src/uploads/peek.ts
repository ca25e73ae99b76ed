/**
 * Reads the first bytes of a stream without losing them: returns them and a stream that
 * yields them followed by the rest, with backpressure intact (nothing beyond `bytes` is held).
 */
import { PassThrough, type Readable } from 'node:stream';

export async function peek(source: Readable, bytes: number): Promise<{ head: Buffer; body: PassThrough }> {
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
  const body = new PassThrough({ highWaterMark: 64 * 1024 });
  if (source.readableEnded) {
    body.end(head);
  } else if (source.destroyed) {
    body.destroy(source.errored ?? new Error('the body stream closed before its end'));
  } else {
    if (head.length > 0) body.write(head);
    source.on('error', (err) => body.destroy(err));
    source.once('close', () => {
      if (!source.readableEnded) body.destroy(new Error('the body stream closed before its end'));
    });
    source.pipe(body);
  }
  return { head: head.subarray(0, bytes), body };
}
