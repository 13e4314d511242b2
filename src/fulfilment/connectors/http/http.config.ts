/**
 * The configuration of an `http` connector (one entry of `dialogs/_connectors.yaml`), as a strict zod
 * schema. Every message says what is expected, so a config error can be fixed from the message alone.
 * JSONata expressions are compiled here too, so a syntax error is reported at
 * `operations.<name>.body|response`; the connector compiles them again, once, in `create()`.
 */
import jsonata from 'jsonata';
import { z } from 'zod';

/** Methods an operation may use. */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
/** An HTTP method an operation may use. */
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** Methods that change state: these always carry `Idempotency-Key`. */
export const WRITE_METHODS: ReadonlySet<HttpMethod> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The operation name reserved for ad-hoc calls (`<connector>.request`). */
export const GENERIC_OPERATION = 'request';

const secretRef = () => z.string({ error: `expected a secret reference such as env:NAME, file:/path or vault:path#key` })
  .regex(/^(env|file|vault):.+/, `expected a secret reference such as env:NAME, file:/path or vault:path#key (plain values are not accepted)`);

const httpUrl = (example: string) => z.url({ protocol: /^https?$/, error: `expected an absolute http(s) URL such as ${example}` });

const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'expected an HTTP header name such as x-api-key');

const methodSchema = z.enum(HTTP_METHODS, { error: `expected one of ${HTTP_METHODS.join(', ')}` });

/** A path relative to `baseUrl`: starts with `/`, no scheme or host. */
export const relativePath = () => z.string({ error: `expected a path starting with / (relative to baseUrl)` })
  .regex(/^\/(?!\/)[^\s#]*$/, `expected a path starting with / (relative to baseUrl), without spaces or #`);

/** A JSONata expression, checked for syntax. */
const jsonataExpr = (over: string) => z.string({ error: `expected a JSONata expression over ${over}` })
  .min(1, `expected a JSONata expression over ${over}`)
  .superRefine((src, ctx) => {
    const err = jsonataCompileError(src);
    if (err) ctx.addIssue({ code: 'custom', message: `not a valid JSONata expression over ${over} (${err})` });
  });

/** The JSONata compile error of `src` as text, or null when it compiles. */
export function jsonataCompileError(src: string): string | null {
  try { jsonata(src); return null; } catch (e) {
    const j = e as { message?: string; position?: number; token?: string };
    return `${j.message ?? String(e)}${j.position !== undefined ? ` at position ${j.position}` : ''}`;
  }
}

/** A template placeholder: `{{input.a.b}}`, whitespace allowed inside the braces. */
export const PLACEHOLDER = /\{\{\s*input((?:\.[A-Za-z_$][A-Za-z0-9_$-]*)+)\s*\}\}/g;

/** The `{{...}}` placeholders in `template` that are not of the form `{{input.x}}`. */
export function badPlaceholders(template: string): string[] {
  return (template.match(/\{\{[^}]*\}\}/g) ?? []).filter((p) => !new RegExp(`^${PLACEHOLDER.source}$`).test(p));
}

const statusCode = z.number().int().min(100).max(599);

const operationSchema = z.strictObject({
  method: methodSchema,
  /** Templated with `{{input.x}}` (values are URL-encoded). */
  path: relativePath(),
  /** Query parameters; each value is templated like `path`; a parameter whose value is only a missing input is left out. */
  query: z.record(z.string().min(1), z.string(), { error: 'expected a map of parameter name to template string' }).optional(),
  /** JSONata over `{input}` producing the request body. */
  body: jsonataExpr('{input}').optional(),
  /** JSONata over `{status, body, headers}` producing the output object. */
  response: jsonataExpr('{status, body, headers}').optional(),
  /** Statuses that count as success; default any 2xx. */
  expectStatus: z.union([statusCode, z.array(statusCode).min(1)], { error: 'expected a status code or a list of status codes' }).optional(),
  /** A 404 is a success with output `{status: 404, notFound: true}` (e.g. deleting what is already gone). */
  notFoundIsSuccess: z.boolean({ error: 'expected true or false' }).optional(),
}).superRefine((op, ctx) => {
  if (op.method === 'GET' && op.body !== undefined) ctx.addIssue({ code: 'custom', path: ['body'], message: 'a GET operation cannot send a body' });
  const templates: [string[], string][] = [[['path'], op.path], ...Object.entries(op.query ?? {}).map(([k, t]): [string[], string] => [['query', k], t])];
  for (const [path, t] of templates) {
    const bad = badPlaceholders(t);
    if (bad.length) ctx.addIssue({ code: 'custom', path, message: `expected placeholders of the form {{input.name}}, got ${bad.join(', ')}` });
  }
});
/** One configured operation, as parsed. */
export type HttpOperationConfig = z.infer<typeof operationSchema>;

const authSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({
    type: z.literal('apiKey'),
    header: headerName.default('x-api-key'),
    key: secretRef(),
    /** Put before the key, e.g. `"Bearer "` for a static bearer token. */
    prefix: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('basic'),
    username: z.string({ error: 'expected the user name' }).min(1, 'expected the user name'),
    password: secretRef(),
  }),
  z.strictObject({
    type: z.literal('oauth2'),
    tokenUrl: httpUrl('https://login.example.com/oauth2/token'),
    clientId: z.string({ error: 'expected the OAuth2 client id' }).min(1, 'expected the OAuth2 client id'),
    clientSecret: secretRef(),
    scope: z.string().min(1).optional(),
    audience: z.string().min(1).optional(),
    /** How the client authenticates to the token endpoint (RFC 6749 §2.3.1): form fields (default) or Basic. */
    clientAuthMethod: z.enum(['client_secret_post', 'client_secret_basic']).default('client_secret_post'),
  }),
], { error: 'expected one of none, apiKey, basic, oauth2' });
/** The `auth` section, as parsed (defaults applied). */
export type HttpAuthConfig = z.infer<typeof authSchema>;

/** The `http` connector's config. */
export const httpConfigSchema = z.strictObject({
  baseUrl: httpUrl('https://api.example.com/v1').refine((u) => !/[?#]/.test(u), 'expected no query string or fragment'),
  auth: authSchema.default({ type: 'none' }),
  /** Per-call timeout (the step's own timeout, `ctx.signal`, applies as well). */
  timeoutMs: z.number({ error: 'expected a whole number of milliseconds between 1 and 600000' }).int().positive().max(600_000).default(30_000),
  /** Sent on every call; cannot override auth or `Idempotency-Key`. */
  headers: z.record(headerName, z.string(), { error: 'expected a map of header name to value' }).default({}),
  /** GET by `check()`, expecting 2xx. */
  healthPath: relativePath().default('/'),
  operations: z.record(z.string(), operationSchema).default({}).superRefine((ops, ctx) => {
    for (const name of Object.keys(ops)) {
      if (name === GENERIC_OPERATION) ctx.addIssue({ code: 'custom', path: [name], message: `"${GENERIC_OPERATION}" is built in and cannot be redefined` });
      else if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'expected an operation name made of a letter, then letters, digits, _ or -' });
    }
  }),
});
/** A parsed `http` connector config. */
export type HttpConnectorConfig = z.infer<typeof httpConfigSchema>;

/** A connector config that cannot be used; the message names the field (and the operation). */
export class HttpConnectorConfigError extends Error {
  override readonly name = 'HttpConnectorConfigError';
}

/** Parses a raw config, throwing {@link HttpConnectorConfigError} with one `path: message` line per issue. */
export function parseHttpConnectorConfig(id: string, raw: unknown): HttpConnectorConfig {
  const r = httpConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.map(String).join('.') || '(config)'}: ${i.message}`);
  throw new HttpConnectorConfigError(`connector "${id}" (http): invalid config:\n${lines.join('\n')}`);
}
