/**
 * A fast fake backend for fulfilment runs: an HTTP server on loopback with the three operations of
 * the bench item (create an account, add it to a group, assign a licence); GET answers 200 (the
 * connector's synthetic check). Every write must carry
 * `Idempotency-Key`; a key seen before gets the first answer again (as a real idempotent API would)
 * and is counted as a replay, so a run can tell a repeated step from a duplicated effect.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export class FakeBackend {
  calls = 0;
  withoutKey = 0;
  replays = 0;
  private readonly answers = new Map<string, { status: number; body: string }>();
  private server: http.Server | undefined;
  base = '';

  constructor(private readonly latencyMs = 0) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      req.on('data', () => undefined);
      req.on('end', () => {
        if (req.method === 'GET') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); return; } // health checks
        this.calls++;
        const key = req.headers['idempotency-key'];
        const reply = (a: { status: number; body: string }) => {
          const send = () => { res.writeHead(a.status, { 'content-type': 'application/json' }); res.end(a.body); };
          if (this.latencyMs) setTimeout(send, this.latencyMs); else send();
        };
        if (typeof key !== 'string' || !key) { this.withoutKey++; reply({ status: 400, body: '{"error":"Idempotency-Key required"}' }); return; }
        const seen = this.answers.get(key);
        if (seen) { this.replays++; reply(seen); return; }
        const url = req.url ?? '';
        let a: { status: number; body: string };
        if (req.method === 'POST' && /^\/api\/accounts$/.test(url)) a = { status: 201, body: JSON.stringify({ id: `acc-${createHash('sha1').update(key).digest('hex').slice(0, 12)}` }) };
        else if (req.method === 'POST' && /^\/api\/groups\/[^/]+\/members$/.test(url)) a = { status: 200, body: '{"added":true}' };
        else if (req.method === 'POST' && /^\/api\/accounts\/[^/]+\/licences$/.test(url)) a = { status: 200, body: '{"assigned":true}' };
        else a = { status: 404, body: '{"error":"not found"}' };
        this.answers.set(key, a);
        reply(a);
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api`;
    return this;
  }

  /** Forgets the keys (between the errand run and the reference run, whose keys differ anyway). */
  reset(): void { this.calls = 0; this.withoutKey = 0; this.replays = 0; this.answers.clear(); }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

/** The bench catalogue item: three calls to the fake backend through the `benchsvc` http connector, no approval. */
export const BENCH_ITEM_YAML = `id: bench-three-step
title: Benchmark three-step request
description: >-
  A synthetic item for bench:fulfilment: three calls to a fake backend, no approval.
category: access
owner:
  team: Benchmarks
  contact: servicedesk@example.com
responseTime: 1h
risk: low
fulfilment: automated
fields:
  - name: note
    type: text
    label: Note
    prompt: Anything to add?
    required: false
approvals: []
workflow:
  - id: create
    label: Create the account
    action: benchsvc.createAccount
    inputs:
      user: "{{requester.email}}"
      reference: "{{request.ref}}"
  - id: group
    label: Add to the group
    action: benchsvc.addToGroup
    inputs:
      account: "{{steps.create.account}}"
      group: bench-users
  - id: licence
    label: Assign a licence
    action: benchsvc.assignLicence
    inputs:
      account: "{{steps.create.account}}"
`;

/** `_connectors.yaml` with the `benchsvc` http connector pointing at `base`. */
export const benchConnectorsYaml = (base: string): string => `connectors:
  benchsvc:
    type: http
    config:
      baseUrl: ${base}
      timeoutMs: 10000
      operations:
        createAccount:
          method: POST
          path: /accounts
          body: '{"user": input.user, "reference": input.reference}'
          response: '{"account": body.id}'
        addToGroup:
          method: POST
          path: /groups/{{input.group}}/members
          body: '{"account": input.account}'
        assignLicence:
          method: POST
          path: /accounts/{{input.account}}/licences
          body: '{"sku": "bench"}'
    retry: { maxAttempts: 3, backoffMs: 200, maxDelayMs: 2000 }
    breaker: { failureRatio: 0.9, windowSize: 50, minCalls: 50, halfOpenAfterMs: 1000 }
`;
