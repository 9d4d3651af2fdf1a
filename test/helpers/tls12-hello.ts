// A hand-built TLS 1.2 ClientHello of any size up to 64 KB, cut into TLS records, and a reader
// for the server's answer up to its Certificate message. With only TLS 1.2 offered the
// certificate comes in clear, so a test sees which certificate (and so which stage proxy)
// answered a ClientHello that node's TLS client cannot be made to send: one spread over
// several records, with the server name after tens of kilobytes of other extensions.
import { randomBytes, X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';

const HANDSHAKE = 0x16;
const ALERT = 0x15;
const TLS12 = [0x03, 0x03];
/** The largest record payload TLS allows (RFC 8446 5.1). */
export const MAX_RECORD_PAYLOAD = 16384;
/** A GREASE extension type (RFC 8701): servers must ignore it, whatever it holds. */
const GREASE_EXTENSION = 0x1a1a;

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
const extension = (type: number, data: Buffer) => Buffer.concat([u16(type), u16(data.length), data]);
const vector16 = (data: Buffer) => Buffer.concat([u16(data.length), data]);

/** The extensions an OpenSSL server needs for ECDHE-ECDSA with a P-256 certificate. */
function ecdheExtensions(): Buffer[] {
  return [
    extension(0x000a, vector16(Buffer.concat([u16(0x001d), u16(0x0017)]))), // supported_groups: x25519, secp256r1
    extension(0x000b, Buffer.from([1, 0])), // ec_point_formats: uncompressed
    extension(0x000d, vector16(Buffer.concat([u16(0x0403), u16(0x0804), u16(0x0401)]))), // signature_algorithms
  ];
}

function serverName(name: string): Buffer {
  const host = Buffer.from(name, 'ascii');
  return extension(0x0000, vector16(Buffer.concat([Buffer.from([0]), vector16(host)])));
}

/**
 * The ClientHello handshake message (header included) offering only TLS 1.2 and
 * ECDHE-ECDSA-AES128-GCM-SHA256. With `size`, a GREASE extension placed before server_name
 * pads the message to exactly `size` bytes (at most 64 KiB, the most one extensions block holds).
 */
export function clientHello12(name: string, size?: number): Buffer {
  const fixed = Buffer.concat([Buffer.from(TLS12), randomBytes(32), Buffer.from([0]), vector16(u16(0xc02b)), Buffer.from([1, 0])]);
  const tail = Buffer.concat([...ecdheExtensions(), serverName(name)]);
  const bodyOf = (padding: Buffer[]) => Buffer.concat([fixed, vector16(Buffer.concat([...padding, tail]))]);
  let body = bodyOf([]);
  if (size !== undefined) {
    const fill = size - 4 - body.length - 4;
    if (fill < 0 || size > 65536) throw new Error(`clientHello12: size ${size} is outside ${4 + body.length + 4}..65536`);
    body = bodyOf([extension(GREASE_EXTENSION, Buffer.alloc(fill, 0x5a))]);
  }
  return Buffer.concat([Buffer.from([0x01]), u24(body.length), body]);
}

/** The handshake bytes in handshake records of at most `payload` bytes each. */
export function inRecords(handshake: Buffer, payload = MAX_RECORD_PAYLOAD): Buffer[] {
  if (payload < 1 || payload > MAX_RECORD_PAYLOAD) throw new Error(`inRecords: payload ${payload} is outside 1..${MAX_RECORD_PAYLOAD}`);
  const records: Buffer[] = [];
  for (let at = 0; at < handshake.length; at += payload) {
    const fragment = handshake.subarray(at, at + payload);
    records.push(Buffer.concat([Buffer.from([HANDSHAKE, ...TLS12]), u16(fragment.length), fragment]));
  }
  return records;
}

export type ServerAnswer = { kind: 'certificate'; leaf: X509Certificate } | { kind: 'alert'; description: number } | { kind: 'closed'; received: number };

/** Handshake messages out of the handshake records in `data`, as far as they are complete. */
function handshakeMessages(data: Buffer): { messages: Array<{ type: number; body: Buffer }>; alert?: number } {
  const stream: Buffer[] = [];
  let at = 0;
  let alert: number | undefined;
  while (data.length - at >= 5 && data.length - at >= 5 + data.readUInt16BE(at + 3)) {
    const fragment = data.subarray(at + 5, at + 5 + data.readUInt16BE(at + 3));
    if (data[at] === HANDSHAKE) stream.push(fragment);
    if (data[at] === ALERT && fragment.length === 2) alert = fragment[1];
    at += 5 + fragment.length;
  }
  const joined = Buffer.concat(stream);
  const messages: Array<{ type: number; body: Buffer }> = [];
  for (let pos = 0; joined.length - pos >= 4; ) {
    const length = joined.readUIntBE(pos + 1, 3);
    if (joined.length - pos - 4 < length) break;
    messages.push({ type: joined[pos]!, body: joined.subarray(pos + 4, pos + 4 + length) });
    pos += 4 + length;
  }
  return { messages, alert };
}

/**
 * Sends the records (each its own write) on a connected socket and reads the answer until the
 * server's Certificate message, an alert, the connection's end, or `timeoutMs`. Destroys the socket.
 */
export function sendHelloReadCertificate(socket: Socket, records: Buffer[], timeoutMs = 10_000): Promise<ServerAnswer> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const finish = (answer: ServerAnswer | Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (answer instanceof Error) reject(answer);
      else resolve(answer);
    };
    const timer = setTimeout(() => finish(new Error(`no Certificate, alert or close within ${timeoutMs} ms (${data.length} bytes received)`)), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const { messages, alert } = handshakeMessages(data);
      const certificate = messages.find((m) => m.type === 11);
      // Certificate: a 3-byte list length, then each certificate as a 3-byte length and DER.
      if (certificate) finish({ kind: 'certificate', leaf: new X509Certificate(certificate.body.subarray(6, 6 + certificate.body.readUIntBE(3, 3))) });
      else if (alert !== undefined) finish({ kind: 'alert', description: alert });
    });
    socket.on('close', () => finish({ kind: 'closed', received: data.length }));
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    for (const record of records) socket.write(record);
  });
}
