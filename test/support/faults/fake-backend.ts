/**
 * A backend for fault tests: a real HTTP server in the test process that behaves like a careful
 * REST API. Every call is logged (method, path, Idempotency-Key, body); a key seen before gets the
 * stored answer again without doing anything (a "replay"), so the effects log shows what really
 * happened on the backend: each create and delete, once per key. Tests can make it hang a call
 * (before or after doing the work), answer late, refuse named resources with 400, or go down
 * (503 for every call) and come back.
 *
 *   POST   /resources         {name}   creates `name` (201 {id}); 400 when the name is in `refuse` or the body has `plan: "refuse"`
 *   DELETE /resources/:name            deletes it (200), or 204 when there is nothing to delete
 *   GET    /health                     200, or 503 while down
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BackendCall {
  n: number; at: number; method: string; path: string; key: string; body: Record<string, unknown>;
  /** replay: the key was known, the stored answer was sent; down: refused with 503 while down. */
  kind: 'fresh' | 'replay' | 'down' | 'no-key';
  status?: number;
  /** Whether the answer was written to the socket (false: hung, or the client went away first). */
  answered: boolean;
}

export interface Effect { n: number; op: 'create' | 'delete'; key: string; resource: string }

/** What to do with a call before answering it. */
export type Intercept =
  | { hang: 'before' } // never answer, do nothing (the request is lost in the network)
  | { hang: 'after' } // do the work, store the answer, never send it (the answer is lost)
  | { delayMs: number };

export class FakeBackend {
  readonly calls: BackendCall[] = [];
  readonly effects: Effect[] = [];
  /** Live resources: name → the key that created it. */
  readonly resources = new Map<string, string>();
  /** Names whose creation is refused with 400 (a "bad request" the business rejects). */
  readonly refuse = new Set<string>();
  down = false;
  /** Called for every call before it is handled; return how to treat it. */
  intercept: ((c: BackendCall) => Intercept | undefined) | undefined;
  /** Called after an answer has been written (the test may kill the caller right then). */
  onAnswered: ((c: BackendCall) => void) | undefined;
  private readonly stored = new Map<string, { status: number; body: unknown }>();
  private server: Server | undefined;
  private n = 0;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => { void this.handle(req, res); });
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
    this.server = undefined;
  }

  /** Calls (any kind) carrying `key`. */
  callsFor(key: string): BackendCall[] { return this.calls.filter((c) => c.key === key); }
  effectsFor(key: string): Effect[] { return this.effects.filter((e) => e.key === key); }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    let body: Record<string, unknown> = {};
    try { body = raw ? JSON.parse(raw) as Record<string, unknown> : {}; } catch { /* keep {} */ }
    const url = new URL(req.url ?? '/', 'http://x');
    const call: BackendCall = { n: ++this.n, at: Date.now(), method: req.method ?? 'GET', path: url.pathname, key: String(req.headers['idempotency-key'] ?? ''), body, kind: 'fresh', answered: false };
    this.calls.push(call);
    const send = (status: number, payload: unknown) => {
      call.status = status;
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 503 ? { 'retry-after': '0' } : {}) }).end(JSON.stringify(payload ?? {}), () => {
        call.answered = true;
        this.onAnswered?.(call);
      });
    };
    if (call.path === '/health') { send(this.down ? 503 : 200, { ok: !this.down }); return; }
    const plan = this.intercept?.(call);
    if (plan && 'hang' in plan && plan.hang === 'before') return;
    if (this.down) { call.kind = 'down'; send(503, { error: 'backend down' }); return; }
    if (!call.key) { call.kind = 'no-key'; send(400, { error: 'Idempotency-Key required' }); return; }
    let answer = this.stored.get(call.key);
    if (answer) call.kind = 'replay';
    else {
      answer = this.apply(call);
      this.stored.set(call.key, answer);
    }
    if (plan && 'hang' in plan) return; // hang 'after': done and stored, the answer never leaves
    if (plan && 'delayMs' in plan && plan.delayMs > 0) await new Promise((r) => setTimeout(r, plan.delayMs));
    send(answer.status, answer.body);
  }

  /** Does the work of a fresh call; returns the answer to store for its key. */
  private apply(call: BackendCall): { status: number; body: unknown } {
    if (call.method === 'POST' && call.path === '/resources') {
      const name = String(call.body.name ?? '');
      if (!name) return { status: 400, body: { error: 'name required' } };
      if (this.refuse.has(name) || call.body.plan === 'refuse') return { status: 400, body: { error: `${name} refused` } };
      if (this.resources.has(name)) return { status: 409, body: { error: `${name} exists (created with key ${this.resources.get(name)})` } };
      this.resources.set(name, call.key);
      this.effects.push({ n: call.n, op: 'create', key: call.key, resource: name });
      return { status: 201, body: { id: `id-${name}` } };
    }
    const del = /^\/resources\/(.+)$/.exec(call.path);
    if (call.method === 'DELETE' && del) {
      const name = decodeURIComponent(del[1]!);
      if (!this.resources.delete(name)) return { status: 204, body: null };
      this.effects.push({ n: call.n, op: 'delete', key: call.key, resource: name });
      return { status: 200, body: { deleted: name } };
    }
    return { status: 404, body: { error: 'no such endpoint' } };
  }
}
