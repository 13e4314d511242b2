/**
 * Loads the connectors of a deployment from `dialogs/_connectors.yaml`:
 *
 *   connectors:
 *     idm:                         # the id workflows use: action "idm.<operation>"
 *       type: http                 # http | scim | ldap | email
 *       config: { ... }            # validated by the type's own schema; secrets as env:/file:/vault: references
 *       retry: { maxAttempts: 5, backoffMs: 1000, maxDelayMs: 60000 }
 *       breaker: { failureRatio: 0.5, windowSize: 20, minCalls: 5, halfOpenAfterMs: 30000 }
 *       rateLimit: { ratePerSecond: 5, burst: 10 }
 *       synthetic: { everySeconds: 300 }
 *
 * A missing file means no connectors. Every problem is reported with the file and the path inside it.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { retrySchema } from '../../catalogue/schema.js';
import type { BreakerConfig } from '../engine/breakers.js';
import type { RetryPolicy } from '../engine/step-policy.js';
import type { Connector, ConnectorType, SecretResolver } from './connector.port.js';
import { emailConnectorType } from './email/email.connector.js';
import { httpConnectorType } from './http/http.connector.js';
import { ldapConnectorType } from './ldap/ldap.connector.js';
import { scimConnectorType } from './scim/scim.connector.js';
import { TokenBucket } from './token-bucket.js';

export const CONNECTOR_TYPES: ConnectorType[] = [httpConnectorType, scimConnectorType, ldapConnectorType, emailConnectorType] as ConnectorType[];

const entrySchema = z.object({
  type: z.string().min(1),
  config: z.record(z.string(), z.unknown()).default({}),
  retry: retrySchema.optional(),
  breaker: z.object({
    failureRatio: z.number().gt(0).max(1).optional(), windowSize: z.number().int().min(1).optional(),
    minCalls: z.number().int().min(1).optional(), halfOpenAfterMs: z.number().int().min(100).optional(),
  }).strict().optional(),
  rateLimit: z.object({ ratePerSecond: z.number().positive(), burst: z.number().int().min(1) }).strict().optional(),
  synthetic: z.object({ everySeconds: z.number().int().min(5) }).strict().optional(),
}).strict();

const fileSchema = z.object({ connectors: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'a connector id like "idm" (lower case, digits, -)'), entrySchema).default({}) }).strict();

export interface ConnectorSet {
  connectors: Connector[];
  retry: Map<string, Partial<RetryPolicy>>;
  breaker: Map<string, Partial<BreakerConfig>>;
  limiters: Map<string, TokenBucket>;
  synthetic: Map<string, number>;
  /** `<id>.<operation>` of every connector, for catalogue validation. */
  operations: Set<string>;
}

export class ConnectorConfigError extends Error {
  readonly code = 'CONNECTORS_INVALID';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file} is invalid:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export const emptyConnectorSet = (): ConnectorSet => ({ connectors: [], retry: new Map(), breaker: new Map(), limiters: new Map(), synthetic: new Map(), operations: new Set() });

/** Reads and builds the connectors; throws ConnectorConfigError listing every problem. */
export async function loadConnectors(file: string, secrets: SecretResolver, types: ConnectorType[] = CONNECTOR_TYPES): Promise<ConnectorSet> {
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyConnectorSet();
    throw e;
  }
  const doc = parseDocument(text);
  if (doc.errors.length) throw new ConnectorConfigError(file, doc.errors.map((e) => `not valid YAML: ${e.message.split('\n')[0]}`));
  const parsed = fileSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) throw new ConnectorConfigError(file, parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  const set = emptyConnectorSet();
  const problems: string[] = [];
  for (const [id, e] of Object.entries(parsed.data.connectors)) {
    const type = types.find((t) => t.type === e.type);
    if (!type) { problems.push(`connectors.${id}.type: unknown type "${e.type}"; expected one of ${types.map((t) => t.type).join(', ')}`); continue; }
    const cfg = type.configSchema.safeParse(e.config);
    if (!cfg.success) { problems.push(...cfg.error.issues.map((i) => `connectors.${id}.config.${i.path.join('.')}: ${i.message}`)); continue; }
    try {
      const c = await type.create(id, cfg.data, secrets);
      set.connectors.push(c);
      for (const op of Object.keys(c.operations)) set.operations.add(`${id}.${op}`);
    } catch (err) {
      problems.push(`connectors.${id}: ${(err as Error).message}`);
      continue;
    }
    if (e.retry) set.retry.set(id, e.retry);
    if (e.breaker) set.breaker.set(id, e.breaker);
    if (e.rateLimit) set.limiters.set(id, new TokenBucket(e.rateLimit));
    if (e.synthetic) set.synthetic.set(id, e.synthetic.everySeconds * 1000);
  }
  if (problems.length) throw new ConnectorConfigError(file, problems);
  return set;
}
