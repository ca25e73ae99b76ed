/**
 * The canonical-path refusal (src/http/path.ts) as a request step. In production the built
 * viewer-request function refuses a non-canonical path; CloudFront has already chosen the
 * behavior on the raw bytes and checked the signature of a signed class by then, so the edge
 * runs this step in the same place: after the signed check, before the viewer-request function
 * and before anything is looked up or stored under the class. It runs with or without the
 * functions, so no path the origin would read as another object is ever cached or forwarded.
 */
import { pathError } from '../../http/path.js';
import type { RequestStep } from '../edge.js';

export const canonicalPathStep: RequestStep = (ctx) => {
  const err = pathError(ctx.path);
  return err
    ? Promise.resolve({ statusCode: err.statusCode ?? 400, code: err.code, message: err.message })
    : undefined;
};
