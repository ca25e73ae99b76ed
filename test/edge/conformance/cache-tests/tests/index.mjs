import ageParse from './age-parse.mjs';
import auth from './authorization.mjs';
import ccFreshness from './cc-freshness.mjs';
import ccParse from './cc-parse.mjs';
import ccRequest from './cc-request.mjs';
import ccResponse from './cc-response.mjs';
import cdncc from './cdn-cache-control.mjs';
import conditionalEtag from './conditional-etag.mjs';
import conditionalLm from './conditional-lm.mjs';
import expires from './expires-freshness.mjs';
import expiresParse from './expires-parse.mjs';
import headers from './headers.mjs';
import heuristic from './heuristic-freshness.mjs';
import interim from './interim.mjs';
import invalidation from './invalidation.mjs';
import methods from './method.mjs';
import other from './other.mjs';
import partial from './partial.mjs';
import pragma from './pragma.mjs';
import stale from './stale.mjs';
import statuses from './status.mjs';
import update304 from './update304.mjs';
import updateHead from './updateHead.mjs';
import vary from './vary.mjs';
import varyParse from './vary-parse.mjs';

export default [
  ccFreshness,
  ccParse,
  ageParse,
  expires,
  expiresParse,
  ccResponse,
  stale,
  heuristic,
  methods,
  statuses,
  ccRequest,
  pragma,
  vary,
  varyParse,
  conditionalLm,
  conditionalEtag,
  headers,
  update304,
  updateHead,
  invalidation,
  partial,
  auth,
  other,
  cdncc,
  interim,
];
