// Which `Host` headers gatelog answers (server.allowed_hosts). Without it, a web page on
// evil.example whose name is re-pointed at 127.0.0.1 (DNS rebinding) talks to an open
// gatelog as a same-origin page: it could read prompts, export calls and create keys.
//   - entries: `name` (any port), `name:port`, `[v6]`, `[v6]:port`, `*.example.com`
//     (subdomains), or `*` (any host);
//   - default without a master key: the loopback names, any port;
//   - default with a master key: any host (the credential is what protects it then).

export const LOOPBACK_HOST_NAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** True when the request's Host header is one gatelog answers. */
export type HostCheck = (host: string | undefined) => boolean;

interface HostPattern {
  name: string;
  /** Undefined: any port. */
  port: string | undefined;
  /** `*.example.com`: `name` holds `.example.com`. */
  suffix: boolean;
}

/** `name[:port]` or `[v6][:port]` → lower-case name (brackets kept for v6) and port. */
function splitHost(raw: string): { name: string; port: string | undefined } | undefined {
  const h = raw.trim().toLowerCase();
  if (h === '') return undefined;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return { name: h.slice(0, end + 1), port: rest ? rest.slice(1) : undefined };
  }
  const colons = h.split(':').length - 1;
  // A bare IPv6 address in the config (`::1`): written without brackets.
  if (colons > 1) return { name: `[${h}]`, port: undefined };
  const [name = '', port] = h.split(':');
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return undefined;
  // `localhost.` is the same name as `localhost`.
  return { name: name.replace(/\.$/, ''), port };
}

/** Whether a server.allowed_hosts entry can be read (config validation). */
export function isHostPattern(entry: string): boolean {
  return entry === '*' || splitHost(entry.startsWith('*.') ? entry.slice(1) : entry) !== undefined;
}

function parsePattern(entry: string): HostPattern {
  const parts = splitHost(entry.startsWith('*.') ? entry.slice(1) : entry);
  if (!parts) throw new Error(`server.allowed_hosts: cannot read "${entry}" as host[:port]`);
  return { ...parts, suffix: entry.startsWith('*.') };
}

/**
 * The check for a configuration, or null when every host is allowed. `open`: no master key
 * is configured (then the default is the loopback names).
 */
export function createHostCheck(allowed: readonly string[] | undefined, open: boolean): HostCheck | null {
  const entries = allowed ?? (open ? LOOPBACK_HOST_NAMES : ['*']);
  if (entries.includes('*')) return null;
  const patterns = entries.map(parsePattern);
  // Clients send the same Host on every call: the last one allowed is answered without parsing.
  let lastAllowed: string | undefined;
  return (host) => {
    if (host === undefined) return false;
    if (host === lastAllowed) return true;
    const h = splitHost(host);
    if (!h) return false;
    const ok = patterns.some((p) => {
      const nameOk = p.suffix ? h.name.endsWith(p.name) && h.name.length > p.name.length : h.name === p.name;
      return nameOk && (p.port === undefined || p.port === h.port);
    });
    if (ok) lastAllowed = host;
    return ok;
  };
}

/** What a refused request is told (the Host it sent is not echoed: it is the attacker's text). */
export const HOST_REFUSED_MESSAGE =
  'This gatelog does not answer requests for this host name (Host header). Use http://localhost or 127.0.0.1, or add the name to server.allowed_hosts in gatelog.yaml.';
