// edgewise viewer-request function (CloudFront Functions, JavaScript runtime 2.0).
// Template: `edgewise cloudfront build` replaces the two markers below with the content-class
// table from edgewise.yaml and writes dist/cloudfront/viewer-request.js. Comments are stripped
// at build time so they do not count against the 10 KB limit.

// biome-ignore-all lint/correctness/noInnerDeclarations: CloudFront Functions are scripts; var is function-scoped by design here.
var C = /*@edgewise:config*/ null;
var KVS_ID = /*@edgewise:kvs*/ null;
// The canonical-path rule and the Accept rule, inlined from src/http/path.ts and
// src/images/negotiate.ts at build time: the origin runs the same code.
var examinePath = /*@edgewise:examinePath*/ null;
var acceptsExplicitly = /*@edgewise:acceptsExplicitly*/ null;

// CloudFront path patterns: * any run of characters, ? one character, first match wins.
var RX = C.classes.map((c) => c.p.map((src) => new RegExp(src)));
var store = KVS_ID ? require('cloudfront').kvs(KVS_ID) : null;
var SIGNING = ['Expires', 'Policy', 'Signature', 'Key-Pair-Id', 'Hash-Algorithm'];

function classify(uri) {
  for (var i = 0; i < RX.length; i++) for (var j = 0; j < RX[i].length; j++) if (RX[i][j].test(uri)) return i;
  return C.def;
}

function reply(code, desc, headers) {
  return { statusCode: code, statusDescription: desc, headers: headers || {} };
}

// An error as every layer answers it: the catalogue's {statusCode, code, message} (C.e holds
// the entries of src/errors.ts this function raises), never stored by browsers.
function fail(e, arg) {
  var body = JSON.stringify({ statusCode: e.s, code: e.c, message: e.m.replace('%s', arg) });
  var r = reply(e.s, e.d, {
    'content-type': { value: 'application/json; charset=utf-8' },
    'cache-control': { value: 'no-store' },
  });
  r.body = { encoding: 'text', data: body };
  return r;
}

function nearest(list, n) {
  var best = list[0];
  for (var i = 1; i < list.length; i++) {
    var d = Math.abs(list[i] - n);
    var bd = Math.abs(best - n);
    if (d < bd || (d === bd && list[i] > best)) best = list[i];
  }
  return best;
}

// The origin's fmt=auto token (src/images/negotiate.ts autoToken), the only Accept
// information the cache key keeps; the origin resolves it exactly as it resolves fmt=auto.
function formatFor(accept, formats) {
  var a = formats.indexOf('avif') !== -1 && acceptsExplicitly(accept, 'image/avif');
  var w = formats.indexOf('webp') !== -1 && acceptsExplicitly(accept, 'image/webp');
  return a && w ? 'auto-aw' : a ? 'auto-a' : w ? 'auto-w' : 'auto';
}

function imageParams(req, q, allow, img) {
  var dims = ['w', 'h'];
  for (var i = 0; i < dims.length; i++) {
    var k = dims[i];
    if (q[k] === undefined || allow.indexOf(k) === -1) continue;
    if (!/^[0-9]{1,5}$/.test(q[k])) return k;
    q[k] = String(nearest(img.w, parseInt(q[k], 10)));
  }
  if (q.q !== undefined && allow.indexOf('q') !== -1) {
    if (!/^[0-9]{1,3}$/.test(q.q)) return 'q';
    var quality = nearest(img.q, parseInt(q.q, 10));
    // The origin's default quality: the same image as no q, so the same cache key.
    if (quality === img.dq) delete q.q;
    else q.q = String(quality);
  }
  if (q.fit !== undefined && allow.indexOf('fit') !== -1) {
    if (img.fit.indexOf(q.fit) === -1) return 'fit';
    // fit only changes pixels when both w and h are given, and cover is the default.
    if (q.fit === img.fit[0] || q.w === undefined || q.h === undefined) delete q.fit;
  }
  if (allow.indexOf('fmt') !== -1) {
    var f = q.fmt;
    if (f === undefined || f === 'auto' || f.indexOf('auto-') === 0) {
      var accept = req.headers.accept ? req.headers.accept.value : '';
      f = formatFor(accept, img.f);
    } else if (img.f.indexOf(f) === -1) return 'fmt';
    // An absent fmt is the origin's fmt=auto: one key for both.
    if (f === 'auto') delete q.fmt;
    else q.fmt = f;
  }
  return null;
}

async function settings(ci) {
  if (!store) return { cls: C.classes[ci], img: C.img };
  try {
    var cls = await store.get(C.kp + C.classes[ci].n, { format: 'json' });
    var img = await store.get(C.kp + 'images', { format: 'json' });
    return { cls: cls, img: img };
  } catch (e) {
    console.log('edgewise: KeyValueStore read failed, request passed through: ' + e);
    return null;
  }
}

// biome-ignore lint/correctness/noUnusedVariables: CloudFront calls handler(event).
async function handler(event) {
  var req = event.request;
  var uri = req.uri;
  var size = uri.length;
  for (var name in req.querystring) {
    var e = req.querystring[name];
    var vals = e.multiValue || [e];
    for (var i = 0; i < vals.length; i++) size += name.length + vals[i].value.length + 2;
  }
  if (size > C.maxUri) return fail(C.e.long, C.maxUri);
  // The class below is chosen on these bytes; the origin refuses any other spelling too.
  var path = examinePath(uri);
  if (path.problem !== undefined) return fail(C.e.bad, path.problem);
  if (path.canonical !== uri) return fail(C.e.path, path.canonical);

  var ci = classify(uri);
  var s = await settings(ci);
  if (!s) return req;
  var cls = s.cls;

  var proto = req.headers['cloudfront-forwarded-proto'];
  if (proto && proto.value === 'http' && cls.v !== 'allow-all') {
    if (cls.v === 'https-only') return fail(C.e.https, '');
    var host = req.headers.host ? req.headers.host.value : '';
    var query = [];
    for (var qn in req.querystring) query.push(qn + '=' + req.querystring[qn].value);
    var loc = 'https://' + host + uri + (query.length ? '?' + query.join('&') : '');
    return reply(301, 'Moved Permanently', { location: { value: loc } });
  }

  // A signed URL's signature covers its query string: leave it exactly as the viewer sent it.
  if (cls.sg) return req;
  // Only GET and HEAD are cached, so only they need a canonical key; other methods (uploads
  // through signed upload URLs) reach the origin with the query the signature covers.
  if (req.method !== 'GET' && req.method !== 'HEAD') return req;

  // queryStringBehavior all (the cache policy's QueryStringBehavior all): every parameter and
  // every value stays, in one order by name, so only the order cannot split the cache.
  if (cls.qa) {
    var all = Object.keys(req.querystring).sort();
    var kept = {};
    for (var a = 0; a < all.length; a++) kept[all[a]] = req.querystring[all[a]];
    req.querystring = kept;
    return req;
  }
  var q = {};
  for (var k in req.querystring)
    if (cls.q.indexOf(k) !== -1 && SIGNING.indexOf(k) === -1) q[k] = req.querystring[k].value;
  if (uri.indexOf(C.ip) === 0) {
    var bad = imageParams(req, q, cls.q, s.img);
    if (bad) return fail(C.e.img, bad);
  }
  // One canonical order, first value only: equivalent URLs share one cache key.
  var names = Object.keys(q).sort();
  var out = {};
  for (var n = 0; n < names.length; n++) out[names[n]] = { value: q[names[n]] };
  req.querystring = out;
  return req;
}
