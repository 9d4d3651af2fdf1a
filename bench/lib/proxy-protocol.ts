// PROXY protocol v2 header (binary), for clients that stand in for the passthrough when they
// talk to a stage proxy directly: the proxy's `listen ... proxy_protocol` expects one first.
import { isIPv4 } from 'node:net';

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const VERSION_2_PROXY = 0x21;
const TCP_OVER_IPV4 = 0x11;

/** A v2 PROXY header for a TCP/IPv4 connection from source to destination. */
export function proxyV2Header(source: { address: string; port: number }, destination: { address: string; port: number }): Buffer {
  for (const end of [source, destination]) {
    if (!isIPv4(end.address)) throw new Error(`proxyV2Header: "${end.address}" is not an IPv4 address`);
  }
  const body = Buffer.alloc(12);
  Buffer.from(source.address.split('.').map(Number)).copy(body, 0);
  Buffer.from(destination.address.split('.').map(Number)).copy(body, 4);
  body.writeUInt16BE(source.port, 8);
  body.writeUInt16BE(destination.port, 10);
  const head = Buffer.alloc(4);
  head[0] = VERSION_2_PROXY;
  head[1] = TCP_OVER_IPV4;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIGNATURE, head, body]);
}
