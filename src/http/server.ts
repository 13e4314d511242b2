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

export function buildHttpApp(d: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  for (const r of d.rawRouters ?? []) app.use(r);
  app.use(express.json({ limit: '256kb' }));

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
  // express 5 passes rejected async handlers here; malformed JSON arrives as a 400 SyntaxError
  app.use((err: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.parse.failed' || err.status === 400) {
      res.status(400).json({ error: 'invalid_json', message: `The body is not valid JSON: ${err.message}` });
      return;
    }
    if (err.type === 'entity.too.large') { res.status(413).json({ error: 'too_large', message: 'The body is larger than 256 kB.' }); return; }
    d.log.error({ err: err.message, path: req.path }, 'unhandled error');
    res.status(500).json({ error: 'internal', message: 'Something went wrong; nothing was stored partially.' });
  });
  return app;
}
