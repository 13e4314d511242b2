/**
 * Authentication for the `http` connector: none, an API key header, HTTP Basic, or an OAuth2
 * client-credentials token that is cached until shortly before it expires and dropped after a 401.
 * Secret references are resolved once, when the connector is created, and every resolved value
 * (and every token obtained) is registered with the connector's {@link SecretMasker}.
 */
import { ConnectorError, type SecretResolver } from '../connector.port.js';
import { HttpConnectorConfigError, type HttpAuthConfig } from './http.config.js';
import { SecretMasker, send, statusError, type CallSignals } from './http.transport.js';

/** Adds credentials to calls. */
export interface AuthProvider {
  /** Headers carrying the credentials for one call. */
  headers(signals: CallSignals): Promise<Record<string, string>>;
  /**
   * After a 401 answered to a call made with `used`: drops the cached credential if it is still the
   * one used. True when a retry with fresh credentials may succeed (OAuth2 only).
   */
  refreshAfter401?(used: Record<string, string>): boolean;
}

/** Token lifetime assumed when the token endpoint gives no `expires_in`. */
const DEFAULT_TOKEN_LIFETIME_MS = 300_000;
/** A token is renewed this long before it expires: 10% of its lifetime, at most 30 s. */
const renewBeforeMs = (lifetimeMs: number) => Math.min(30_000, lifetimeMs / 10);

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Rejects when `signal` aborts, without cancelling `p` (which other callers may share). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal, label: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ConnectorError(`${label}: aborted (step timeout or cancellation)`, true));
    if (signal.aborted) { onAbort(); return; }
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

type OAuth2Config = Extract<HttpAuthConfig, { type: 'oauth2' }>;

/** A client-credentials token, fetched once for concurrent callers and cached until near expiry. */
class OAuth2Token {
  private token: { value: string; renewAt: number } | undefined;
  private inflight: Promise<string> | undefined;
  private readonly label: string;

  constructor(private readonly cfg: OAuth2Config, private readonly secret: string, private readonly masker: SecretMasker,
    private readonly now: () => number, private readonly timeoutMs: number) {
    const url = new URL(cfg.tokenUrl);
    this.label = `OAuth2 token request (${url.origin}${url.pathname})`;
    if (cfg.clientAuthMethod === 'client_secret_basic') masker.add(this.clientBasic().slice('Basic '.length));
  }

  private clientBasic(): string {
    return basic(encodeURIComponent(this.cfg.clientId), encodeURIComponent(this.secret));
  }

  async get(signals: CallSignals): Promise<string> {
    if (this.token && this.now() < this.token.renewAt) return this.token.value;
    if (!this.inflight) {
      this.inflight = this.fetchToken().finally(() => { this.inflight = undefined; });
      this.inflight.catch(() => { /* each caller sees the failure; none may be left to listen */ });
    }
    return untilAborted(this.inflight, signals.step, this.label);
  }

  /** Forgets the cached token if it is `used`; true either way (the next call gets a current token). */
  invalidate(used: string): boolean {
    if (this.token?.value === used) this.token = undefined;
    return true;
  }

  private async fetchToken(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.cfg.scope) form.set('scope', this.cfg.scope);
    if (this.cfg.audience) form.set('audience', this.cfg.audience);
    const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' });
    if (this.cfg.clientAuthMethod === 'client_secret_basic') {
      headers.set('authorization', this.clientBasic());
    } else {
      form.set('client_id', this.cfg.clientId);
      form.set('client_secret', this.secret);
    }
    const started = this.now();
    // Shared by concurrent callers: only the connector timeout applies; each caller races its own signal.
    const res = await send({ method: 'POST', url: new URL(this.cfg.tokenUrl), headers, body: form.toString() },
      { step: new AbortController().signal, timeoutMs: this.timeoutMs }, this.label);
    if (res.status < 200 || res.status > 299) throw statusError(this.label, res, this.now(), (t) => this.masker.mask(t));
    const b = res.body as { access_token?: unknown; expires_in?: unknown } | null;
    if (!b || typeof b !== 'object' || typeof b.access_token !== 'string' || !b.access_token) {
      throw new ConnectorError(`${this.label}: the answer has no access_token`, false, undefined, res.status);
    }
    this.masker.add(b.access_token);
    const seconds = Number(b.expires_in);
    const lifetimeMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_TOKEN_LIFETIME_MS;
    this.token = { value: b.access_token, renewAt: started + lifetimeMs - renewBeforeMs(lifetimeMs) };
    return b.access_token;
  }
}

/** Options of {@link createAuth}. */
export interface AuthOptions {
  connectorId: string;
  secrets: SecretResolver;
  masker: SecretMasker;
  now: () => number;
  timeoutMs: number;
}

/** Resolves the auth config's secrets and returns its provider; an unresolvable secret is a config error. */
export async function createAuth(auth: HttpAuthConfig, o: AuthOptions): Promise<AuthProvider> {
  const resolve = async (field: string, ref: string): Promise<string> => {
    let value: string;
    try { value = await o.secrets(ref); } catch (e) {
      throw new HttpConnectorConfigError(`connector "${o.connectorId}" (http): cannot resolve auth.${field} (${ref}): ${o.masker.mask((e as Error).message ?? String(e))}`);
    }
    if (!value) throw new HttpConnectorConfigError(`connector "${o.connectorId}" (http): auth.${field} (${ref}) resolved to an empty value`);
    o.masker.add(value);
    return value;
  };
  switch (auth.type) {
    case 'none':
      return { headers: async () => ({}) };
    case 'apiKey': {
      const value = `${auth.prefix ?? ''}${await resolve('key', auth.key)}`;
      o.masker.add(value);
      return { headers: async () => ({ [auth.header]: value }) };
    }
    case 'basic': {
      const value = basic(auth.username, await resolve('password', auth.password));
      o.masker.add(value);
      o.masker.add(value.slice('Basic '.length));
      return { headers: async () => ({ authorization: value }) };
    }
    case 'oauth2': {
      const token = new OAuth2Token(auth, await resolve('clientSecret', auth.clientSecret), o.masker, o.now, o.timeoutMs);
      return {
        headers: async (signals) => ({ authorization: `Bearer ${await token.get(signals)}` }),
        refreshAfter401: (used) => token.invalidate((used.authorization ?? '').replace(/^Bearer /, '')),
      };
    }
  }
}
