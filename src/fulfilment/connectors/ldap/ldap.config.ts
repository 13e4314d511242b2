/**
 * Configuration and operation inputs of the LDAP connector (`type: ldap` in `dialogs/_connectors.yaml`).
 * Every schema is strict: an unknown key is a typo, not something to ignore. The bind password is
 * never written in the config, only a secret reference that the connector resolves on each call.
 */
import { z } from 'zod';

const nonEmpty = (what: string) => z.string({ error: `${what} must be a string` }).trim().min(1, `${what} must not be empty`);

/** A filter template: an LDAP filter in parentheses that contains the given `{{placeholder}}`. */
const filterTemplate = (what: string, placeholder: string) =>
  nonEmpty(what)
    .refine((s) => s.startsWith('(') && s.endsWith(')'), `${what} must be an LDAP filter in parentheses, e.g. (mail={{${placeholder}}})`)
    .refine((s) => s.includes(`{{${placeholder}}}`), `${what} must contain the placeholder {{${placeholder}}}`);

/** An attribute description: a name (letters, digits, hyphens) or an OID. */
const attributeName = (what: string) =>
  nonEmpty(what).regex(/^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)$/, `${what} must be an LDAP attribute name such as "member"`);

/** TLS settings: for `ldaps://` URLs, or for `ldap://` with `startTls: true`. */
export const ldapTlsSchema = z.strictObject({
  /** Upgrade an `ldap://` connection with StartTLS before binding. */
  startTls: z.boolean().default(false),
  /** Verify the server's certificate (default true; turn off only for a lab server). */
  rejectUnauthorized: z.boolean().default(true),
  /** PEM CA certificate(s) to trust in addition to the system's. */
  ca: z.string().optional(),
  /** Server name to verify the certificate against, when it differs from the URL's host. */
  servername: z.string().optional(),
});

/** The connector's configuration. */
export const ldapConfigSchema = z.strictObject({
  url: nonEmpty('url').regex(
    /^ldaps?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?\/?$/,
    'url must be ldap://host[:port] or ldaps://host[:port] (no path, no credentials)',
  ),
  /** DN of the service account the connector binds as. */
  bindDn: nonEmpty('bindDn'),
  /** Secret reference to the bind password: `env:NAME`, `file:/path` or `vault:path#key`. */
  bindPassword: nonEmpty('bindPassword').regex(
    /^(env|file|vault):\S+$/,
    'bindPassword must be a secret reference (env:NAME, file:/path or vault:path#key), not the password itself',
  ),
  /** Where users are searched (subtree). */
  baseDn: nonEmpty('baseDn'),
  /** Finds exactly one user by email; `{{email}}` is replaced by the filter-escaped address. */
  userFilter: filterTemplate('userFilter', 'email').default('(mail={{email}})'),
  /** Where groups are searched (subtree). */
  groupBaseDn: nonEmpty('groupBaseDn'),
  /** Finds exactly one group by name; `{{group}}` is replaced by the filter-escaped name. */
  groupFilter: filterTemplate('groupFilter', 'group').default('(cn={{group}})'),
  /** The group's membership attribute (`member` for groupOfNames, `uniqueMember`, `memberUid`). */
  groupAttribute: attributeName('groupAttribute').default('member'),
  /** Which user attribute is stored in the group: unset = the user's DN; `uid` for posixGroup's memberUid. */
  memberValueAttribute: attributeName('memberValueAttribute').optional(),
  /**
   * The disabled flag: `disableAccount` adds `disabledValue` to this attribute of the user and
   * `enableAccount` deletes that one value (other values are kept). Stock slapd allows
   * `description` on every inetOrgPerson; with the ppolicy overlay use `pwdAccountLockedTime`
   * and `000001010000Z` (permanently locked).
   */
  disabledAttribute: attributeName('disabledAttribute').default('description'),
  disabledValue: nonEmpty('disabledValue').default('disabled'),
  /** Per LDAP operation and for the TCP connect, in milliseconds. */
  timeoutMs: z.number({ error: 'timeoutMs must be a number of milliseconds' }).int('timeoutMs must be an integer')
    .min(100, 'timeoutMs must be at least 100').max(300_000, 'timeoutMs must be at most 300000').default(10_000),
  tls: ldapTlsSchema.optional(),
});

/** The parsed configuration (defaults applied). */
export type LdapConfig = z.infer<typeof ldapConfigSchema>;

const person = z.email({ error: 'person must be an email address' }).max(254, 'person is too long');
const group = nonEmpty('group').max(256, 'group is too long');

/** Inputs of the operations, validated before any IO. */
export const ldapInputs = {
  addToGroup: z.strictObject({ person, group }),
  removeFromGroup: z.strictObject({ person, group }),
  disableAccount: z.strictObject({ person }),
  enableAccount: z.strictObject({ person }),
};
