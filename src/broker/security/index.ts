/**
 * Broker security: users with scrypt-hashed passwords, anonymous policy and Mosquitto-like ACLs,
 * packaged as a `BrokerHooks` set (`createSecurityHooks`).
 *
 * Authentication (CONNECT), reason codes as in MQTT 5 section 3.2.2.2:
 * - no username: accepted when anonymous access is allowed, else 0x86.
 * - username of a configured user: the password must verify, else 0x86 (also when missing).
 * - username that is not configured: 0x86 even when anonymous access is allowed, as Mosquitto does
 *   with a password_file (checked against mosquitto 2.0.11: `allow_anonymous true` + password_file,
 *   a CONNECT with an unknown user gets CONNACK 5 while one without username is accepted).
 *   When NO users are configured at all, usernames are not checked (Mosquitto without password_file).
 * - `allowAnonymous` defaults to true when no users are configured, false otherwise.
 * - MQTT 5 enhanced authentication (Authentication Method set) is not supported here: 0x8C.
 * Unknown users still cost one scrypt evaluation, so response time does not reveal which usernames exist.
 */
import type { AclRule, AuthResult, AuthenticateRequest, BrokerHooks, ClientIdentity, UserConfig } from '../types';
import { Acl, aclRuleErrors, type SubscribePolicy } from './acl';
import { hashPassword, parsePasswordHash, verifyPasswordAsync, type ParsedHash } from './password';
import * as crypto from 'node:crypto';

export { Acl, aclRuleErrors, type CompiledAcl, type SubscribePolicy } from './acl';
export { hashPassword, verifyPassword, verifyPasswordAsync, parsePasswordHash, SCRYPT_DEFAULTS, type ParsedHash } from './password';
export { FilterTrie, filterContains, filterError, filtersOverlap, unshare } from './topic-filter';

export const RC_SUCCESS = 0x00;
export const RC_BAD_USERNAME_OR_PASSWORD = 0x86;
export const RC_NOT_AUTHORIZED = 0x87;
export const RC_BAD_AUTHENTICATION_METHOD = 0x8c;

export interface SecurityOptions {
  users?: UserConfig[];
  allowAnonymous?: boolean;
  acl?: AclRule[];
  /** How SUBSCRIBE is checked against read rules; see acl.ts. Default 'contained'. */
  subscribePolicy?: SubscribePolicy;
}

/** Every problem in a security configuration, one message each (empty = valid). */
export function validateSecurityConfig(opts: SecurityOptions): string[] {
  const errs: string[] = [];
  const users = opts.users ?? [];
  if (!Array.isArray(users)) return ['users must be an array'];
  const seen = new Set<string>();
  users.forEach((u, i) => {
    const at = `user ${i + 1}`;
    if (!u || typeof u.username !== 'string' || u.username === '') return void errs.push(`${at}: username must be a non-empty string`);
    if (seen.has(u.username)) errs.push(`${at}: duplicate username "${u.username}"`);
    seen.add(u.username);
    if (u.passwordHash !== undefined && u.passwordHash !== '') {
      const p = parsePasswordHash(u.passwordHash);
      if (typeof p === 'string') errs.push(`${at} ("${u.username}"): ${p}`);
    } else if (typeof u.password !== 'string' || u.password === '') {
      errs.push(`${at} ("${u.username}"): a password or passwordHash is required`);
    }
  });
  if (opts.allowAnonymous !== undefined && typeof opts.allowAnonymous !== 'boolean') errs.push('allowAnonymous must be a boolean');
  if (opts.subscribePolicy !== undefined && !['contained', 'overlap', 'delivery'].includes(opts.subscribePolicy)) {
    errs.push("subscribePolicy must be 'contained', 'overlap' or 'delivery'");
  }
  errs.push(...aclRuleErrors(opts.acl));
  return errs;
}

/** Thrown by createSecurityHooks for an invalid configuration; `problems` lists every issue. */
export class SecurityConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid security configuration: ${problems.join('; ')}`);
    this.name = 'SecurityConfigError';
  }
}

export interface SecurityHooks extends BrokerHooks {
  authenticate(req: AuthenticateRequest): Promise<AuthResult>;
  /** The compiled ACL (for inspection and tests). */
  readonly acl: Acl;
  readonly allowAnonymous: boolean;
}

/**
 * Builds the hook set. Plain passwords are hashed here, once (synchronously, ~20 ms each); only
 * hashes are kept. Throws SecurityConfigError on invalid input.
 */
export function createSecurityHooks(opts: SecurityOptions = {}): SecurityHooks {
  const problems = validateSecurityConfig(opts);
  if (problems.length) throw new SecurityConfigError(problems);
  const users = new Map<string, ParsedHash>();
  for (const u of opts.users ?? []) {
    const text = u.passwordHash ? u.passwordHash : hashPassword(u.password as string);
    users.set(u.username, parsePasswordHash(text) as ParsedHash);
  }
  const allowAnonymous = opts.allowAnonymous ?? users.size === 0;
  const acl = new Acl(opts.acl ?? [], opts.subscribePolicy ?? 'contained');
  // verified against for unknown usernames, so that they take as long as known ones (always fails)
  const decoy: ParsedHash = { N: 8192, r: 8, p: 1, salt: crypto.randomBytes(16), hash: crypto.randomBytes(32) };
  const refuse = (reasonString: string): AuthResult => ({ reasonCode: RC_BAD_USERNAME_OR_PASSWORD, reasonString });

  const hooks: SecurityHooks = {
    acl,
    allowAnonymous,
    async authenticate(req: AuthenticateRequest): Promise<AuthResult> {
      if (req.authenticationMethod) {
        return { reasonCode: RC_BAD_AUTHENTICATION_METHOD, reasonString: `authentication method "${req.authenticationMethod}" is not supported` };
      }
      if (req.username === undefined) {
        return allowAnonymous ? { reasonCode: RC_SUCCESS } : refuse('anonymous access is not allowed');
      }
      if (users.size === 0) {
        return allowAnonymous ? { reasonCode: RC_SUCCESS } : refuse('bad user name or password');
      }
      const h = users.get(req.username);
      const password = req.password ?? Buffer.alloc(0);
      const ok = await verifyPasswordAsync(password, h ?? decoy);
      return ok && h && req.password !== undefined ? { reasonCode: RC_SUCCESS } : refuse('bad user name or password');
    },
  };
  if (acl.enabled) {
    hooks.authorizePublish = (client: ClientIdentity, msg) => (acl.canWrite(client, msg.topic) ? true : RC_NOT_AUTHORIZED);
    hooks.authorizeSubscribe = (client: ClientIdentity, sub) => (acl.canSubscribe(client, sub.topicFilter) ? true : RC_NOT_AUTHORIZED);
    hooks.authorizeRead = (client: ClientIdentity, msg) => acl.canRead(client, msg.topic);
  }
  return hooks;
}
