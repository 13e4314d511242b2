/**
 * The generic `http` connector: a REST backend described in `dialogs/_connectors.yaml` as a base URL,
 * an auth method and named operations (templated path and query, JSONata request and response
 * mappings, expected statuses), plus a built-in `request {method, path, query?, body?}` for ad-hoc
 * calls. Writes carry `Idempotency-Key: ctx.idempotencyKey`; failures are {@link ConnectorError}s the
 * engine can retry or not (see `http.transport.ts`), with every secret value masked out.
 */
import { z } from 'zod';
import { ConnectorError, type Connector, type ConnectorType, type Operation, type SecretResolver } from '../connector.port.js';
import { createAuth, type AuthProvider } from './http.auth.js';
import {
  GENERIC_OPERATION, HTTP_METHODS, WRITE_METHODS, httpConfigSchema, parseHttpConnectorConfig, relativePath,
  type HttpConnectorConfig, type HttpMethod, type HttpOperationConfig,
} from './http.config.js';
import { compileMapping, evaluate, evaluateOutput, MappingError, renderPath, renderQuery, type Mapping } from './http.mapping.js';
import { SecretMasker, send, statusError, type CallSignals, type HttpResponse } from './http.transport.js';

/** Options for {@link createHttpConnectorType}; tests inject a clock. */
export interface HttpConnectorOptions {
  /** Milliseconds since the epoch; drives OAuth2 token expiry and Retry-After dates. */
  now?: () => number;
}

/** One call, ready to send (the path is already rendered; the body already mapped). */
interface Prepared {
  method: HttpMethod;
  path: string;
  query: [string, string][];
  body: unknown;
}

/** How a response is judged and turned into output. */
interface Outcome {
  expectStatus?: number[];
  notFoundIsSuccess?: boolean;
  response?: Mapping;
}

const genericInput = z.strictObject({
  method: z.enum(HTTP_METHODS, { error: `expected one of ${HTTP_METHODS.join(', ')}` }),
  path: relativePath(),
  query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  body: z.unknown().optional(),
});

/** Builds the URL under `baseUrl`, refusing anything that would leave it. */
function buildUrl(base: URL, path: string, query: [string, string][]): URL {
  const prefix = base.pathname.replace(/\/+$/, '');
  const url = new URL(`${base.origin}${prefix}${path}`);
  for (const [k, v] of query) url.searchParams.append(k, v);
  if (url.origin !== base.origin || !(url.pathname === prefix || url.pathname.startsWith(`${prefix}/`))) {
    throw new MappingError(`path ${path} leaves the connector's baseUrl`);
  }
  return url;
}

/** The connector instance's request machinery: headers, auth (with one retry after a 401) and judging. */
class HttpClient {
  private readonly base: URL;

  constructor(private readonly cfg: HttpConnectorConfig, private readonly auth: AuthProvider, private readonly now: () => number, private readonly masker: SecretMasker) {
    this.base = new URL(cfg.baseUrl);
  }

  /** Sends `p`; on a 401 with refreshable credentials, refreshes them and sends once more. */
  async exchange(p: Prepared, signals: CallSignals, idempotencyKey?: string): Promise<{ res: HttpResponse; label: string }> {
    const url = buildUrl(this.base, p.path, p.query);
    const label = `${p.method} ${url.pathname}`;
    const body = p.body === undefined || p.method === 'GET' ? undefined : JSON.stringify(p.body);
    const attempt = async () => {
      const creds = await this.auth.headers(signals);
      const headers = new Headers({ accept: 'application/json' });
      for (const [k, v] of Object.entries(this.cfg.headers)) headers.set(k, v);
      if (body !== undefined) headers.set('content-type', 'application/json');
      for (const [k, v] of Object.entries(creds)) headers.set(k, v);
      if (idempotencyKey !== undefined && WRITE_METHODS.has(p.method)) headers.set('idempotency-key', idempotencyKey);
      return { res: await send({ method: p.method, url, headers, body }, signals, label), creds };
    };
    const first = await attempt();
    if (first.res.status === 401 && this.auth.refreshAfter401?.(first.creds)) return { res: (await attempt()).res, label };
    return { res: first.res, label };
  }

  /** The output of a response, or the error for it. */
  async judge(res: HttpResponse, label: string, o: Outcome): Promise<Record<string, unknown>> {
    if (res.status === 404 && o.notFoundIsSuccess) return { status: 404, notFound: true };
    const ok = o.expectStatus ? o.expectStatus.includes(res.status) : res.status >= 200 && res.status <= 299;
    if (!ok) throw statusError(label, res, this.now(), (t) => this.masker.mask(t));
    if (!o.response) return { status: res.status, body: res.body };
    return evaluateOutput(o.response, { status: res.status, body: res.body, headers: res.headers });
  }
}

/**
 * Runs `fn` and turns whatever it throws into a {@link ConnectorError} prefixed with `where`, its
 * message masked: the single exit point, so no secret value leaves in a message.
 */
async function guarded<T>(where: string, masker: SecretMasker, fn: () => Promise<T>): Promise<T> {
  try { return await fn(); } catch (e) {
    if (e instanceof ConnectorError) throw new ConnectorError(masker.mask(`${where}: ${e.message}`), e.retryable, e.retryAfterMs, e.status);
    const retryable = false; // mapping errors, bad input and bugs: a retry would do the same
    throw new ConnectorError(masker.mask(`${where}: ${e instanceof Error ? e.message : String(e)}`), retryable);
  }
}

/** An operation's compiled mappings and outcome rules. */
interface CompiledOperation {
  name: string;
  op: HttpOperationConfig;
  body?: Mapping;
  outcome: Outcome;
}

/** Compiles an operation's JSONata once; a bad expression is a config error naming the operation. */
function compileOperation(id: string, name: string, op: HttpOperationConfig): CompiledOperation {
  return {
    name,
    op,
    body: op.body === undefined ? undefined : compileMapping(id, name, 'body', op.body),
    outcome: {
      expectStatus: op.expectStatus === undefined ? undefined : ([] as number[]).concat(op.expectStatus),
      notFoundIsSuccess: op.notFoundIsSuccess,
      response: op.response === undefined ? undefined : compileMapping(id, name, 'response', op.response),
    },
  };
}

function configuredOperation(c: CompiledOperation, id: string, client: HttpClient, cfg: HttpConnectorConfig, masker: SecretMasker): Operation {
  return (input, ctx) => guarded(`${id}.${c.name}`, masker, async () => {
    const prepared: Prepared = {
      method: c.op.method,
      path: renderPath(c.op.path, input),
      query: renderQuery(c.op.query, input),
      body: c.body ? await evaluate(c.body, { input }) : undefined,
    };
    const { res, label } = await client.exchange(prepared, { step: ctx.signal, timeoutMs: cfg.timeoutMs }, ctx.idempotencyKey);
    return client.judge(res, label, c.outcome);
  });
}

function genericOperation(id: string, client: HttpClient, cfg: HttpConnectorConfig, masker: SecretMasker): Operation {
  return (input, ctx) => guarded(`${id}.${GENERIC_OPERATION}`, masker, async () => {
    const r = genericInput.safeParse(input);
    if (!r.success) throw new MappingError(`invalid input: ${r.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`);
    const q = r.data.path.indexOf('?');
    const [path, qs] = q < 0 ? [r.data.path, ''] : [r.data.path.slice(0, q), r.data.path.slice(q + 1)];
    const query: [string, string][] = [...new URLSearchParams(qs), ...Object.entries(r.data.query ?? {}).map(([k, v]): [string, string] => [k, String(v)])];
    const prepared: Prepared = { method: r.data.method, path, query, body: r.data.body };
    const { res, label } = await client.exchange(prepared, { step: ctx.signal, timeoutMs: cfg.timeoutMs }, ctx.idempotencyKey);
    return client.judge(res, label, {});
  });
}

/** Builds the `http` connector type; {@link httpConnectorType} is the one with the real clock. */
export function createHttpConnectorType(options: HttpConnectorOptions = {}): ConnectorType<typeof httpConfigSchema> {
  const now = options.now ?? Date.now;
  return {
    type: 'http',
    configSchema: httpConfigSchema,
    async create(id: string, raw: HttpConnectorConfig, secrets: SecretResolver): Promise<Connector> {
      // Parsing again is idempotent for parsed config and names the field when the caller skipped it.
      const config = parseHttpConnectorConfig(id, raw);
      const compiled = Object.entries(config.operations).map(([name, op]) => compileOperation(id, name, op));
      const masker = new SecretMasker();
      const auth = await createAuth(config.auth, { connectorId: id, secrets, masker, now, timeoutMs: config.timeoutMs });
      const client = new HttpClient(config, auth, now, masker);
      const operations: Record<string, Operation> = {};
      for (const c of compiled) operations[c.name] = configuredOperation(c, id, client, config, masker);
      operations[GENERIC_OPERATION] = genericOperation(id, client, config, masker);
      return {
        id,
        type: 'http',
        operations,
        check: (signal) => guarded(`${id}.check`, masker, async () => {
          const { res, label } = await client.exchange({ method: 'GET', path: config.healthPath, query: [], body: undefined }, { step: signal, timeoutMs: config.timeoutMs });
          await client.judge(res, label, {});
        }),
      };
    },
  };
}

/** The `http` connector type, registered under `type: http`. */
export const httpConnectorType: ConnectorType<typeof httpConfigSchema> = createHttpConnectorType();
