import net, { type AddressInfo } from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that counts the named statements its clients execute (by the statement
 * name of each Bind message of the extended protocol), so that a test can tell how often a server process ran a
 * given statement, exactly and at once, without pg_stat_statements. Everything is passed through unchanged.
 */
export class StatementCounter {
  readonly counts = new Map<string, number>();
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(targetUrl: string): Promise<StatementCounter> {
    const u = new URL(targetUrl);
    const counter = new StatementCounter({ host: u.hostname, port: Number(u.port || 5432) });
    await new Promise<void>((resolve) => counter.server.listen(0, '127.0.0.1', resolve));
    return counter;
  }

  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String((this.server.address() as AddressInfo).port);
    return u.toString();
  }

  count(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.target);
    this.sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.pipe(client);
    let buffered = Buffer.alloc(0);
    let started = false;
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (!started) {
          // The startup message has no type byte. (An SSLRequest would be answered and followed by it.)
          if (buffered.length < 8) return;
          const len = buffered.readInt32BE(0);
          if (buffered.length < len) return;
          if (buffered.readInt32BE(4) !== 80877103) started = true;
          buffered = buffered.subarray(len);
          continue;
        }
        if (buffered.length < 5) return;
        const len = buffered.readInt32BE(1);
        if (buffered.length < 1 + len) return;
        if (buffered[0] === 0x42 /* 'B': Bind */) {
          const body = buffered.subarray(5, 1 + len);
          const portalEnd = body.indexOf(0);
          const nameEnd = body.indexOf(0, portalEnd + 1);
          const name = body.subarray(portalEnd + 1, nameEnd).toString('utf8');
          if (name) this.counts.set(name, this.count(name) + 1);
        }
        buffered = buffered.subarray(1 + len);
      }
    });
  }
}
