// edgewise viewer-response function (CloudFront Functions, JavaScript runtime 2.0).
// Template: `edgewise cloudfront build` fills the markers from edgewise.yaml. Sets the
// browser Cache-Control of the request's content class (the origin's s-maxage is for the edge
// only), security headers, and Server-Timing naming the class for debugging.

// biome-ignore-all lint/correctness/noInnerDeclarations: CloudFront Functions are scripts; var is function-scoped by design here.
var C = /*@edgewise:config*/ null;
var KVS_ID = /*@edgewise:kvs*/ null;

var RX = C.classes.map((c) => c.p.map((src) => new RegExp(src)));
var store = KVS_ID ? require('cloudfront').kvs(KVS_ID) : null;
// Content hash in the file name: the same rule as the origin's isFingerprinted().
var FINGERPRINT = /[.-][0-9a-f]{8,64}\.[a-z0-9]+$/i;

function classify(uri) {
  for (var i = 0; i < RX.length; i++) for (var j = 0; j < RX[i].length; j++) if (RX[i][j].test(uri)) return i;
  return C.def;
}

function browserCacheControl(cls, uri) {
  if (cls.sg) return 'private, max-age=' + cls.b;
  if (FINGERPRINT.test(uri)) return 'public, max-age=31536000, immutable';
  if (cls.b === 0) return 'no-cache';
  var parts = ['public', 'max-age=' + cls.b];
  if (cls.swr > 0) parts.push('stale-while-revalidate=' + cls.swr);
  if (cls.sie > 0) parts.push('stale-if-error=' + cls.sie);
  return parts.join(', ');
}

// biome-ignore lint/correctness/noUnusedVariables: CloudFront calls handler(event).
async function handler(event) {
  var res = event.response;
  // CloudFront skips this function when the origin answers 400 or above; should it run for an
  // error of its own, that error must not get a class's browser TTL either.
  if (res.statusCode >= 400) return res;
  var h = res.headers;
  var ci = classify(event.request.uri);
  var cls = C.classes[ci];
  if (store) {
    try {
      cls = await store.get(C.kp + cls.n, { format: 'json' });
    } catch (e) {
      console.log('edgewise: KeyValueStore read failed, Cache-Control left as sent: ' + e);
      cls = null;
    }
  }
  // An origin that says no-store or private knows the response is personal: never widen it.
  var cc = h['cache-control'] ? h['cache-control'].value.toLowerCase() : '';
  if (cls && cc.indexOf('no-store') === -1 && cc.indexOf('private') === -1)
    h['cache-control'] = { value: browserCacheControl(cls, event.request.uri) };
  if (C.hsts) h['strict-transport-security'] = { value: C.hsts };
  h['x-content-type-options'] = { value: 'nosniff' };
  if (!h['referrer-policy']) h['referrer-policy'] = { value: C.rp };
  if (C.st) {
    var timing = 'edgewise;desc="' + C.classes[ci].n + '"';
    h['server-timing'] = { value: h['server-timing'] ? h['server-timing'].value + ', ' + timing : timing };
  }
  return res;
}
