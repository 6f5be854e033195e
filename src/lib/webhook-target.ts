/**
 * Where a webhook may go. A channel's webhook URLs are set by whoever holds an API token; left unchecked they
 * would let that holder make the server POST into its own network (loopback, private ranges, link-local cloud
 * metadata). Unless the operator allows private addresses, a webhook whose host is, or resolves to, such an
 * address is not called: refuseWebhookTarget says why before the call, and the calls go through
 * webhookDispatcher, whose connections check the very address they connect to, so a name that answers a public
 * address to the check and a private one to the connection (DNS rebinding) is refused as well.
 */
import { lookup as lookupCallback, type LookupAddress, type LookupOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Agent, getGlobalDispatcher, type Dispatcher } from 'undici';

const private4: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const private6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
];

const blocked = new BlockList();
for (const [address, prefix] of private4) blocked.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of private6) blocked.addSubnet(address, prefix, 'ipv6');

/** Whether an IP address is loopback, private, link-local, shared, reserved or multicast. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    // IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    return mapped === undefined ? blocked.check(address, 'ipv6') : blocked.check(mapped, 'ipv4');
  }
  return true;
}

/** Why a webhook to `url` is refused, or undefined when it may be called. */
export async function refuseWebhookTarget(url: string, allowPrivate: boolean): Promise<string | undefined> {
  if (allowPrivate) return undefined;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) === 0 ? (await lookup(host, { all: true })).map((entry) => entry.address) : [host];
  } catch {
    return `webhook host ${host} does not resolve`;
  }
  const inside = addresses.find(isPrivateAddress);
  return inside === undefined
    ? undefined
    : `webhook address ${inside} is private (see --webhook-private-addresses)`;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** net.connect's lookup, refusing a name that resolves to a private address. */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  lookupCallback(hostname, { ...options, all: true }, (error, addresses) => {
    if (error !== null) {
      callback(error, '');
      return;
    }
    const inside = addresses.find((entry) => isPrivateAddress(entry.address));
    const first = addresses[0];
    if (inside !== undefined || first === undefined) {
      const refused: NodeJS.ErrnoException = new Error(
        inside === undefined ? `${hostname} has no address` : `webhook address ${inside.address} is private`,
      );
      refused.code = 'EACCES';
      callback(refused, '');
    } else if (options.all === true) callback(null, addresses);
    else callback(null, first.address, first.family);
  });
}

let guarded: Agent | undefined;

/** The dispatcher for webhook calls: the default one when private addresses are allowed. */
export function webhookDispatcher(allowPrivate: boolean): Dispatcher {
  if (allowPrivate) return getGlobalDispatcher();
  guarded ??= new Agent({ connect: { lookup: publicOnlyLookup } });
  return guarded;
}
