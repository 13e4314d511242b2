/**
 * A lean keep-alive HTTP/1.1 client for load generation (node:http with a keep-alive Agent:
 * connections are reused; `maxSockets` bounds them). `post` resolves with the status (0 when the
 * request failed at the network level) once the whole response has been read.
 */
import http from 'node:http';

export class KeepAliveClient {
  readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(base: string, maxSockets = 128) {
    const u = new URL(base);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    // idle sockets are closed after 4 s, before the server's 5 s keep-alive timeout (Node's default), so a
    // request never goes out on a socket the server is closing at that moment (ECONNRESET)
    this.agent = new http.Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 1000, timeout: 4000 });
  }

  post(path: string, headers: Record<string, string>, body: string, timeoutMs = 30_000): Promise<{ status: number; error?: string }> {
    return new Promise((resolve) => {
      const req = http.request({
        host: this.host, port: this.port, path, method: 'POST', agent: this.agent,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', (e) => resolve({ status: 0, error: e.message }));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => resolve({ status: 0, error: e.message }));
      req.end(body);
    });
  }

  close(): void { this.agent.destroy(); }
}
