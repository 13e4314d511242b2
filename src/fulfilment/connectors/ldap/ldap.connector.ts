/**
 * LDAP connector (OpenLDAP, 389-DS, AD in LDAP mode) built on ldapts: group membership and an
 * account-disabled flag, each operation idempotent by its natural key so a retry or a replay after
 * a crash is harmless:
 * - `addToGroup {person, group}`: the member value is present afterwards; already a member → `changed: false`.
 * - `removeFromGroup {person, group}`: the value is absent afterwards; not a member → `changed: false`.
 * - `disableAccount {person}` / `enableAccount {person}`: `disabledValue` is present / absent in
 *   `disabledAttribute` (default `description: disabled`, which stock slapd allows on any
 *   inetOrgPerson); already in that state → `changed: false`.
 * The state is read first, then changed with a single-value add/delete; if another writer wins the
 * race, the server's "value exists" / "no such attribute" answer is also reported as `changed: false`.
 *
 * Each call opens its own connection (bind, work, unbind): no state survives a failed call, and a
 * step timeout (`ctx.signal`) destroys the socket at once. The bind password is resolved from its
 * secret reference on every call (rotation needs no restart) and never appears in messages.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Attribute, Change, Client, Filter, type ClientOptions, type Entry } from 'ldapts';
import type { z } from 'zod';
import { ConnectorError, type Connector, type ConnectorType, type SecretResolver } from '../connector.port.js';
import { ldapConfigSchema, ldapInputs, type LdapConfig } from './ldap.config.js';
import { LDAP_NO_SUCH_ATTRIBUTE, LDAP_TYPE_OR_VALUE_EXISTS, resultCode, toConnectorError } from './ldap.errors.js';

export { ldapConfigSchema, type LdapConfig } from './ldap.config.js';

/** Parses an operation's input or throws a non-retryable ConnectorError naming the bad fields. */
function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown, id: string, op: string): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
  throw new ConnectorError(`ldap connector "${id}": invalid input for ${op}: ${issues}`, false);
}

/** The values of one attribute of a search entry, as strings (attribute names are case-insensitive). */
function values(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

class LdapConnector implements Connector {
  readonly type = 'ldap';
  readonly operations: Connector['operations'];
  private readonly open = new Set<Client>();
  private closed = false;

  constructor(readonly id: string, private readonly cfg: LdapConfig, private readonly secrets: SecretResolver) {
    this.operations = {
      addToGroup: (input, ctx) => this.membership('addToGroup', input, ctx.signal, 'add'),
      removeFromGroup: (input, ctx) => this.membership('removeFromGroup', input, ctx.signal, 'delete'),
      disableAccount: (input, ctx) => this.disabledFlag('disableAccount', input, ctx.signal, true),
      enableAccount: (input, ctx) => this.disabledFlag('enableAccount', input, ctx.signal, false),
    };
  }

  /** Binds and runs a base-scope search of `baseDn`; throws a ConnectorError when unhealthy. */
  async check(signal: AbortSignal): Promise<void> {
    await this.withSession(signal, `checking ${this.cfg.baseDn}`, async (client) => {
      await client.search(this.cfg.baseDn, { scope: 'base', attributes: ['1.1'], sizeLimit: 1 });
    });
  }

  /** Unbinds every connection still open (calls in flight then fail as retryable). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.open].map((c) => c.unbind().catch(() => undefined)));
    this.open.clear();
  }

  private async membership(op: string, input: unknown, signal: AbortSignal, mode: 'add' | 'delete') {
    const { person, group } = parseInput(ldapInputs.addToGroup, input, this.id, op);
    const what = mode === 'add' ? `adding ${person} to group ${group}` : `removing ${person} from group ${group}`;
    return this.withSession(signal, what, async (client) => {
      const user = await this.findUser(client, person, this.cfg.memberValueAttribute ? [this.cfg.memberValueAttribute] : ['1.1']);
      const groupDn = await this.findGroup(client, group);
      const attr = this.cfg.groupAttribute;
      let value = user.dn;
      if (this.cfg.memberValueAttribute) {
        const v = values(user, this.cfg.memberValueAttribute)[0];
        if (v === undefined) throw new ConnectorError(`ldap connector "${this.id}": user ${person} (${user.dn}) has no ${this.cfg.memberValueAttribute}`, false);
        value = v;
      }
      // The server compares with the attribute's matching rule (DN normalisation for `member`).
      const isMember = await client.compare(groupDn, attr, value).catch((e: unknown) => {
        if (resultCode(e) === LDAP_NO_SUCH_ATTRIBUTE) return false;
        throw e;
      });
      const result = { changed: false, userDn: user.dn, groupDn };
      if (isMember === (mode === 'add')) return result;
      try {
        await client.modify(groupDn, new Change({ operation: mode, modification: new Attribute({ type: attr, values: [value] }) }));
      } catch (e) {
        const code = resultCode(e);
        if (code === (mode === 'add' ? LDAP_TYPE_OR_VALUE_EXISTS : LDAP_NO_SUCH_ATTRIBUTE)) return result; // lost a race: same end state
        if (code === 65 && mode === 'delete') {
          throw new ConnectorError(`ldap connector "${this.id}": ${what} failed: ${person} is the last member and the group's object class requires one (object class violation)`, false, undefined, 65);
        }
        throw e;
      }
      return { ...result, changed: true };
    });
  }

  private async disabledFlag(op: string, input: unknown, signal: AbortSignal, disable: boolean) {
    const { person } = parseInput(ldapInputs.disableAccount, input, this.id, op);
    const { disabledAttribute: attr, disabledValue: flag } = this.cfg;
    const what = `${disable ? 'disabling' : 'enabling'} account ${person}`;
    return this.withSession(signal, what, async (client) => {
      const user = await this.findUser(client, person, [attr]);
      const present = values(user, attr).some((v) => v.toLowerCase() === flag.toLowerCase());
      const result = { changed: false, userDn: user.dn, disabled: disable };
      if (present === disable) return result;
      try {
        await client.modify(user.dn, new Change({ operation: disable ? 'add' : 'delete', modification: new Attribute({ type: attr, values: [flag] }) }));
      } catch (e) {
        if (resultCode(e) === (disable ? LDAP_TYPE_OR_VALUE_EXISTS : LDAP_NO_SUCH_ATTRIBUTE)) return result;
        throw e;
      }
      return { ...result, changed: true };
    });
  }

  /** Exactly one user matching `userFilter`, else a non-retryable error naming the person. */
  private async findUser(client: Client, email: string, attributes: string[]): Promise<Entry> {
    const filter = this.cfg.userFilter.split('{{email}}').join(Filter.escape(email));
    const { searchEntries } = await client.search(this.cfg.baseDn, { scope: 'sub', filter, attributes, sizeLimit: 2 });
    return this.exactlyOne(searchEntries, `user ${email}`, this.cfg.baseDn);
  }

  /** The DN of exactly one group matching `groupFilter`, else a non-retryable error naming the group. */
  private async findGroup(client: Client, name: string): Promise<string> {
    const filter = this.cfg.groupFilter.split('{{group}}').join(Filter.escape(name));
    const { searchEntries } = await client.search(this.cfg.groupBaseDn, { scope: 'sub', filter, attributes: ['1.1'], sizeLimit: 2 });
    return this.exactlyOne(searchEntries, `group ${name}`, this.cfg.groupBaseDn).dn;
  }

  private exactlyOne(entries: Entry[], what: string, base: string): Entry {
    const [first, second] = entries;
    if (!first) throw new ConnectorError(`ldap connector "${this.id}": no such ${what} under ${base}`, false, undefined, 32);
    if (second) throw new ConnectorError(`ldap connector "${this.id}": ${what} is ambiguous under ${base} (${first.dn}, ${second.dn}, ...)`, false);
    return first;
  }

  /**
   * Connects, binds, runs `work`, and always unbinds. An abort of `signal` destroys the socket and
   * rejects at once with a retryable error; every failure is mapped by `toConnectorError`. Once the
   * session is over (done or aborted) the client cannot reconnect: ldapts would otherwise silently
   * open a new, unbound connection for an operation still in flight.
   */
  private async withSession<T>(signal: AbortSignal, what: string, work: (client: Client) => Promise<T>): Promise<T> {
    if (this.closed) throw new ConnectorError(`ldap connector "${this.id}" is closed`, true);
    let secret: string | undefined;
    let client: Client | undefined;
    let over = false;
    let onAbort: (() => void) | undefined;
    try {
      if (signal.aborted) throw new ConnectorError(`ldap connector "${this.id}": ${what} aborted before it started (step timeout)`, true);
      const password = (secret = await this.resolveSecret());
      const c = (client = new Client(this.clientOptions(() => over)));
      this.open.add(c);
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => {
          over = true;
          void c.unbind().catch(() => undefined);
          reject(new ConnectorError(`ldap connector "${this.id}": ${what} aborted (step timeout)`, true));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      const run = async () => {
        if (this.cfg.tls?.startTls) await c.startTLS(this.tlsOptions());
        await c.bind(this.cfg.bindDn, password).catch((e: unknown) => {
          throw toConnectorError(e, this.id, `binding as ${this.cfg.bindDn}`, password);
        });
        return work(c);
      };
      return await Promise.race([run(), aborted]);
    } catch (e) {
      throw toConnectorError(e, this.id, what, secret);
    } finally {
      over = true;
      if (onAbort) signal.removeEventListener('abort', onAbort);
      if (client) {
        this.open.delete(client);
        await client.unbind().catch(() => undefined);
      }
    }
  }

  private async resolveSecret(): Promise<string> {
    const ref = this.cfg.bindPassword;
    let value: string;
    try {
      value = await this.secrets(ref);
    } catch (e) {
      // The resolver's message is about the reference, but keep it out anyway: it may quote file content.
      throw new ConnectorError(`ldap connector "${this.id}": cannot resolve bindPassword secret ${ref}${e instanceof Error ? ` (${e.name})` : ''}`, false);
    }
    if (!value) throw new ConnectorError(`ldap connector "${this.id}": bindPassword secret ${ref} is empty`, false);
    return value;
  }

  private tlsOptions() {
    const t = this.cfg.tls;
    return t ? { rejectUnauthorized: t.rejectUnauthorized, ca: t.ca, servername: t.servername } : undefined;
  }

  /** Client options whose socket factories refuse to (re)connect once `isOver()`. */
  private clientOptions(isOver: () => boolean): ClientOptions {
    const { url, timeoutMs } = this.cfg;
    const refuse = () => { if (isOver()) throw new Error('LDAP session already ended; not reconnecting'); };
    return {
      url, timeout: timeoutMs, connectTimeout: timeoutMs, strictDN: true,
      tlsOptions: url.startsWith('ldaps:') ? this.tlsOptions() : undefined,
      createConnection: ((...args: Parameters<typeof net.connect>) => { refuse(); return net.connect(...args); }) as typeof net.connect,
      createSecureConnection: ((...args: Parameters<typeof tls.connect>) => { refuse(); return tls.connect(...args); }) as typeof tls.connect,
    };
  }
}

/** The `ldap` connector type: register it with the connector registry. */
export const ldapConnectorType: ConnectorType<typeof ldapConfigSchema> = {
  type: 'ldap',
  configSchema: ldapConfigSchema,
  create(id: string, config: LdapConfig, secrets: SecretResolver): Connector {
    // Accept raw (unparsed) config too: parsing is idempotent and applies the defaults.
    const parsed = ldapConfigSchema.safeParse(config);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
      throw new ConnectorError(`ldap connector "${id}": invalid config: ${issues}`, false);
    }
    return new LdapConnector(id, parsed.data, secrets);
  },
};
