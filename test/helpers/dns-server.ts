// A tiny authoritative DNS server over UDP on a loopback port, for discovery tests: it answers A, AAAA and SRV
// questions from a table the test edits while it runs (RFC 1035 §4 message format, RFC 2782 SRV RDATA), counts
// the questions it gets, and can be told to fail (SERVFAIL) or to stay silent.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

const TYPES = { A: 1, AAAA: 28, SRV: 33 } as const;
type RecordType = keyof typeof TYPES;

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface Answer {
  ttl: number;
  /** An address for A/AAAA, a record for SRV. */
  data: string | SrvRecord;
}

export class DnsServer {
  readonly #socket: dgram.Socket;
  /** Answers by "TYPE name" (name without the trailing dot, lower case). */
  readonly records = new Map<string, Answer[]>();
  /** Questions received by "TYPE name". */
  readonly questions = new Map<string, number>();
  /** 'ok' answers from the table; 'servfail' answers SERVFAIL; 'silent' drops every question. */
  mode: 'ok' | 'servfail' | 'silent' = 'ok';

  private constructor(socket: dgram.Socket) {
    this.#socket = socket;
    socket.on('message', (msg, rinfo) => {
      const reply = this.#answer(msg);
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
  }

  static async start(): Promise<DnsServer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new DnsServer(socket);
  }

  /** "127.0.0.1:PORT", as discovery's `servers` takes it. */
  get address(): string {
    return `127.0.0.1:${(this.#socket.address() as AddressInfo).port}`;
  }

  set(type: RecordType, name: string, answers: Answer[]): void {
    this.records.set(`${type} ${name.toLowerCase()}`, answers);
  }

  asked(type: RecordType, name: string): number {
    return this.questions.get(`${type} ${name.toLowerCase()}`) ?? 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #answer(msg: Buffer): Buffer | undefined {
    if (msg.length < 12 || this.mode === 'silent') return undefined;
    // The question: labels, then type and class.
    let at = 12;
    const labels: string[] = [];
    while (at < msg.length && msg[at] !== 0) {
      const len = msg[at]!;
      labels.push(msg.subarray(at + 1, at + 1 + len).toString('latin1'));
      at += len + 1;
    }
    at += 1;
    const qtype = msg.readUInt16BE(at);
    const questionEnd = at + 4;
    const name = labels.join('.').toLowerCase();
    const type = (Object.keys(TYPES) as RecordType[]).find((t) => TYPES[t] === qtype);
    const key = `${type ?? qtype} ${name}`;
    this.questions.set(key, (this.questions.get(key) ?? 0) + 1);
    const answers = type === undefined ? undefined : this.records.get(key);
    const known = [...this.records.keys()].some((k) => k.endsWith(` ${name}`));
    // RCODE 2 SERVFAIL, 3 NXDOMAIN; 0 with no answers is NODATA.
    const rcode = this.mode === 'servfail' ? 2 : answers === undefined && !known ? 3 : 0;
    const rrs = rcode === 0 && answers ? answers.map((a) => record(qtype, a)) : [];
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    const rd = msg[2]! & 0x01;
    header[2] = 0x84 | rd; // QR, AA, RD as asked
    header[3] = 0x80 | rcode; // RA
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(rrs.length, 6);
    return Buffer.concat([header, msg.subarray(12, questionEnd), ...rrs]);
  }
}

function record(qtype: number, answer: Answer): Buffer {
  let rdata: Buffer;
  if (typeof answer.data === 'string') {
    rdata = qtype === TYPES.A ? Buffer.from(answer.data.split('.').map(Number)) : ipv6Bytes(answer.data);
  } else {
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(answer.data.priority, 0);
    fixed.writeUInt16BE(answer.data.weight, 2);
    fixed.writeUInt16BE(answer.data.port, 4);
    rdata = Buffer.concat([fixed, encodeName(answer.data.target)]);
  }
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's (RFC 1035 §4.1.4)
  head.writeUInt16BE(qtype, 2);
  head.writeUInt16BE(1, 4); // class IN
  head.writeUInt32BE(answer.ttl, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail = ''] = address.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head!);
  const t = groups(tail);
  const all = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
