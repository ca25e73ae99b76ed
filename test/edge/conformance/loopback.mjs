// Preload for the vendored cache-tests server (node --import): its server.mjs calls
// server.listen(port), which binds every interface. Tests may only use 127.0.0.1, so every
// http.Server listen in that process is forced onto loopback (the port stays as given; 0 picks one).
import http from 'node:http';

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function listenOnLoopback(...args) {
  const port = typeof args[0] === 'number' || typeof args[0] === 'string' ? Number(args[0]) || 0 : 0;
  const callback = args.find((a) => typeof a === 'function');
  return listen.call(this, { port, host: '127.0.0.1' }, callback);
};
