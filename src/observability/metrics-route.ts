/**
 * GET /metrics: the Prometheus text exposition of this instance's registry.
 *
 * Access decision: with METRICS_TOKEN unset the endpoint is open, like /healthz. It carries only
 * aggregates (counts and durations by catalogue item, department, channel, connector and job
 * name; no people, no request contents), and scrapers normally reach it on an internal network.
 * Set METRICS_TOKEN when the port is reachable from elsewhere: then every scrape must send
 * `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials: ...}`); anything
 * else gets 401. The comparison is constant-time.
 */
import { timingSafeEqual } from 'node:crypto';
import express from 'express';
import type { Metrics } from './metrics.js';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function metricsRouter(metrics: Pick<Metrics, 'render' | 'contentType'>, token: string | undefined): express.Router {
  const r = express.Router();
  r.get('/metrics', async (req, res) => {
    if (token) {
      const auth = req.get('authorization') ?? '';
      if (!auth.startsWith('Bearer ') || !sameSecret(auth.slice(7).trim(), token)) {
        res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics"').json({ error: 'unauthorized', message: 'Send the metrics token as "Authorization: Bearer <token>".' });
        return;
      }
    }
    const body = await metrics.render();
    res.status(200).set('Content-Type', metrics.contentType).set('Cache-Control', 'no-store').send(body);
  });
  return r;
}
