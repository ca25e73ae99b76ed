// Test-only preload (node --import): resolves every *.localhost name to 127.0.0.1, as RFC 6761
// §6.3 asks resolvers to (systemd-resolved and browsers do; glibc's files+dns does not). The
// KeyValueStore data-plane SDK puts the account id in front of the endpoint's host
// (`{scheme}://{accountId}.{authority}`), so a loopback fake is reached as
// http://123456789012.localhost:<port>.
import dns from 'node:dns';

const lookup = dns.lookup;
dns.lookup = function patched(host, options, callback) {
  if (typeof host === 'string' && (host === 'localhost' || host.endsWith('.localhost'))) {
    const cb = typeof options === 'function' ? options : callback;
    const all = typeof options === 'object' && options !== null && options.all;
    if (all) process.nextTick(cb, null, [{ address: '127.0.0.1', family: 4 }]);
    else process.nextTick(cb, null, '127.0.0.1', 4);
    return;
  }
  return lookup.call(this, host, options, callback);
};
