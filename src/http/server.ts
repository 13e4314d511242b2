/** The express app: web chat, REST API, health. Errors become JSON without stack traces. */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../log.js';
import type { Database } from '../db/database.js';
import type { JobQueue } from '../jobs/job-queue.port.js';

export interface HttpDeps {
  db: Database; queue: JobQueue; log: Logger; routers: express.Router[];
  /** Mounted before the JSON body parser (channel adapters that verify the raw body). */
  rawRouters?: express.Router[];
  /** Backends' breaker states and synthetic-check results, shown by /healthz (informational). */
  backends?: () => Promise<Record<string, unknown>>;
}

/** Body size limits in words ("256 kB"). */
export const formatLimit = (bytes: number): string => (bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.round(bytes / 1024)} kB`);

/** JSON bodies: strings lose NUL characters (PostgreSQL stores none, in text or jsonb), everything else stays as sent. */
const withoutNul = (_key: string, value: unknown): unknown => (typeof value === 'string' && value.includes('\u0000') ? value.replace(/\u0000/g, '') : value);

export function buildHttpApp(d: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  for (const r of d.rawRouters ?? []) app.use(r);
  app.use(express.json({ limit: '256kb', reviver: withoutNul }));

  app.get('/healthz', async (_req, res) => {
    let database: { ok: boolean; kind: string; error?: string };
    try {
      await d.db.query('SELECT 1');
      database = { ok: true, kind: d.db.kind };
    } catch (e) {
      database = { ok: false, kind: d.db.kind, error: (e as Error).message };
    }
    const jobs = await d.queue.health();
    const ok = database.ok && jobs.ok;
    const backends = d.backends ? await d.backends().catch((e: Error) => ({ error: e.message })) : {};
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', database, jobs, backends });
  });

  for (const r of d.routers) app.use(r);

  app.use((_req, res) => { res.status(404).json({ error: 'not_found', message: 'No such endpoint.' }); });
  // express 5 passes rejected async handlers here; body-parser's refusals (malformed JSON, too large,
  // too many form fields, unsupported charset or content encoding) are the client's: their 4xx
  app.use((err: Error & { status?: number; statusCode?: number; type?: string; limit?: number; expose?: boolean }, req: Request, res: Response, _next: NextFunction) => {
    const status = err.status ?? err.statusCode;
    if (err.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'invalid_json', message: `The body is not valid JSON: ${err.message}` });
      return;
    }
    if (err.type === 'entity.too.large') {
      res.status(413).json({ error: 'too_large', message: `The body is larger than ${err.limit ? formatLimit(err.limit) : 'this endpoint accepts'}.` });
      return;
    }
    if (err.type === 'parameters.too.many') { res.status(413).json({ error: 'too_many_fields', message: 'The form has more fields than this endpoint accepts.' }); return; }
    if (err.type === 'charset.unsupported' || err.type === 'encoding.unsupported') {
      res.status(415).json({ error: 'unsupported_encoding', message: `${err.message}: send UTF-8 without a Content-Encoding.` });
      return;
    }
    if (status !== undefined && status >= 400 && status < 500 && err.expose !== false) {
      res.status(status).json({ error: 'bad_request', message: err.message });
      return;
    }
    d.log.error({ err: err.message, path: req.path }, 'unhandled error');
    res.status(500).json({ error: 'internal', message: 'Something went wrong; nothing was stored partially.' });
  });
  return app;
}
