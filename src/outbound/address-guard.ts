import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The address guard of outbound requests (the `http` kind, completion webhooks): a target may be any public
 * unicast address, never one inside the service's own network (private, loopback, link-local and cloud metadata,
 * CGNAT, unique-local, multicast, unspecified, broadcast, reserved, documentation, and the IPv6 forms that embed a
 * refused IPv4 address), unless HTTP_ALLOW_HOSTS lists it.
 *
 * The guard is also the resolver of the connection (`lookup`): a host name is resolved once, every address it
 * has is checked, and the socket connects to one of those checked addresses. Checking one resolution and then
 * connecting through another would let a host that answers differently the second time (DNS rebinding) through.
 */

/** An entry of HTTP_ALLOW_HOSTS: a host name, an address, or a CIDR range. */
export type AllowEntry =
  { kind: 'host'; name: string } | { kind: 'range'; range: [ipaddr.IPv4 | ipaddr.IPv6, number] };

/** Parses one HTTP_ALLOW_HOSTS entry; undefined when it is neither a host name, an address nor a CIDR. */
export function parseAllowEntry(raw: string): AllowEntry | undefined {
  const entry = raw.trim().toLowerCase();
  if (entry.includes('/')) {
    try {
      const [address, bits] = ipaddr.parseCIDR(entry);
      return { kind: 'range', range: [normalise(address), bits - prefixShift(address)] };
    } catch {
      return undefined;
    }
  }
  const unbracketed = entry.replace(/^\[(.*)\]$/, '$1');
  if (isIP(unbracketed) !== 0) {
    const address = normalise(ipaddr.parse(unbracketed));
    return { kind: 'range', range: [address, address.kind() === 'ipv4' ? 32 : 128] };
  }
  // RFC 1123 host names: labels of letters, digits and hyphens.
  if (
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/.test(
      entry,
    )
  ) {
    return { kind: 'host', name: entry.replace(/\.$/, '') };
  }
  return undefined;
}

/** An IPv4-mapped range (::ffff:10.0.0.0/104) is the IPv4 range it maps: its prefix loses the 96 mapping bits. */
function prefixShift(address: ipaddr.IPv4 | ipaddr.IPv6): number {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? 96 : 0;
}

function normalise(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
    ? (address as ipaddr.IPv6).toIPv4Address()
    : address;
}

/** Why an address is refused (the name of its range), or undefined when it is a public unicast address. */
export function refusedRange(address: string): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return 'not an IP address';
  }
  if (parsed.kind() === 'ipv4') return ipv4Refusal(parsed as ipaddr.IPv4);
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return ipv4Refusal(v6.toIPv4Address(), 'IPv4-mapped ');
  const range = v6.range();
  const parts = v6.parts;
  // ::/96 (but :: and ::1, named below) is the deprecated IPv4-compatible form: nothing public lives there.
  if (range === 'unicast' && parts.slice(0, 6).every((p) => p === 0)) return 'IPv4-compatible';
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they embed: judge that one.
  if (range === 'rfc6052' && parts[2] === 0 && parts[3] === 0 && parts[4] === 0 && parts[5] === 0) {
    return ipv4Refusal(embeddedIPv4(parts[6]!, parts[7]!), 'NAT64 of ');
  }
  if (range === '6to4') return ipv4Refusal(embeddedIPv4(parts[1]!, parts[2]!), '6to4 of ');
  return range === 'unicast' ? undefined : range;
}

function ipv4Refusal(v4: ipaddr.IPv4, prefix = ''): string | undefined {
  const range = v4.range();
  return range === 'unicast' ? undefined : `${prefix}${range}`;
}

function embeddedIPv4(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** A target the guard refused: its message says which address and why, never more. */
export class AddressRefusedError extends Error {
  readonly code = 'ERR_ADDRESS_REFUSED';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(
      host === address
        ? `refused address ${address} (${range}); HTTP_ALLOW_HOSTS can allow it`
        : `refused address ${address} (${range}) of host ${host}; HTTP_ALLOW_HOSTS can allow it`,
    );
    this.name = 'AddressRefusedError';
  }
}

/** Finds an AddressRefusedError in an error or its causes (HTTP clients wrap connection errors). */
export function findAddressRefusal(err: unknown): AddressRefusedError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (e instanceof AddressRefusedError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

export class AddressGuard {
  private readonly hosts: ReadonlySet<string>;
  private readonly ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][];

  /**
   * @param allow HTTP_ALLOW_HOSTS: host names allowed whatever they resolve to, addresses and ranges allowed
   * @param resolve every address of a host name (the system resolver; tests may give their own)
   */
  constructor(
    allow: readonly AllowEntry[] = [],
    private readonly resolve: Resolver = systemResolver,
  ) {
    this.hosts = new Set(allow.flatMap((e) => (e.kind === 'host' ? [e.name] : [])));
    this.ranges = allow.flatMap((e) => (e.kind === 'range' ? [e.range] : []));
  }

  /** Throws AddressRefusedError unless `address` may be connected to for `host`. */
  check(host: string, address: string): void {
    if (this.hosts.has(normaliseHost(host))) return;
    const range = refusedRange(address);
    if (range === undefined) return;
    const parsed = normalise(ipaddr.parse(address));
    if (this.ranges.some(([net, bits]) => parsed.kind() === net.kind() && parsed.match(net, bits))) return;
    throw new AddressRefusedError(host, address, range);
  }

  /**
   * Every address of `host` (an address itself, or a name to resolve), all of them checked: one refused address
   * refuses the host, whichever the connection would have picked.
   */
  async addresses(host: string): Promise<LookupAddress[]> {
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    const family = isIP(bare);
    const found = family !== 0 ? [{ address: bare, family }] : await this.resolve(bare);
    for (const a of found) this.check(bare, a.address);
    return found;
  }

  /**
   * A `lookup` for net.connect / tls.connect (an undici Agent's `connect` option): resolves through the guard, so
   * the socket connects only to an address that was checked. TLS keeps the original name for SNI and the
   * certificate. (An address literal is never looked up by net.connect: check it with `addresses` first.)
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.addresses(hostname).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = wanted === 0 ? found : found.filter((a) => a.family === wanted);
        if (usable.length === 0) {
          const err = Object.assign(new Error(`no IPv${wanted} address for ${hostname}`), {
            code: 'ENOTFOUND',
          });
          return callback(err, '', 0);
        }
        if (options.all) {
          (callback as unknown as (err: null, addresses: LookupAddress[]) => void)(null, usable);
        } else {
          callback(null, usable[0]!.address, usable[0]!.family);
        }
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

function normaliseHost(host: string): string {
  return host
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase()
    .replace(/\.$/, '');
}
