/**
 * The hook chain: several BrokerHooks sets (security first, then options.hooks, then addHooks()).
 * authenticate / authContinue: the first non-undefined answer wins (no answer = allow, except for
 * enhanced authentication, which needs a hook that knows the method).
 * authorize*: every set must allow; a set without the hook allows. Results stay synchronous when
 * every hook answers synchronously, so the hot path never allocates a Promise.
 */
import type { AuthenticateRequest, AuthResult, BrokerHooks, BrokerMessage, ClientIdentity, Subscription } from './types';
import { RC } from './capabilities';

type Answer<T> = T | Promise<T>;

function isPromise<T>(v: unknown): v is Promise<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** true → 0 (allow); false → 0x87; a number below 0x80 → allow; else that reason code. */
export function toReasonCode(v: boolean | number | undefined | null): number {
  if (v === undefined || v === null || v === true) return 0;
  if (v === false) return RC.NOT_AUTHORIZED;
  if (typeof v === 'number' && v < 0x80) return 0;
  return typeof v === 'number' ? v : RC.NOT_AUTHORIZED;
}

export class HookChain {
  private sets: BrokerHooks[] = [];
  private auth: BrokerHooks[] = [];
  private authCont: BrokerHooks[] = [];
  private pub: BrokerHooks[] = [];
  private sub: BrokerHooks[] = [];
  private read: BrokerHooks[] = [];
  /** True when some set defines authorizeRead (otherwise the per-delivery check is skipped). */
  hasRead = false;
  hasPublish = false;
  hasSubscribe = false;
  /** True when some set defines authenticate (otherwise CONNECT skips building the request). */
  hasAuthenticate = false;

  setAll(sets: BrokerHooks[]): void {
    this.sets = sets.filter(Boolean);
    this.auth = this.sets.filter((h) => typeof h.authenticate === 'function');
    this.authCont = this.sets.filter((h) => typeof h.authContinue === 'function');
    this.pub = this.sets.filter((h) => typeof h.authorizePublish === 'function');
    this.sub = this.sets.filter((h) => typeof h.authorizeSubscribe === 'function');
    this.read = this.sets.filter((h) => typeof h.authorizeRead === 'function');
    this.hasRead = this.read.length > 0;
    this.hasPublish = this.pub.length > 0;
    this.hasSubscribe = this.sub.length > 0;
    this.hasAuthenticate = this.auth.length > 0;
  }

  private security: BrokerHooks | null = null;
  private authEnhanced: BrokerHooks[] = [];

  /** The security set answers password logins first; enhanced auth (a method) asks the other sets first. */
  setSecurity(h: BrokerHooks | null): void {
    this.security = h;
    this.authEnhanced = h ? [...this.auth.filter((x) => x !== h), ...this.auth.filter((x) => x === h)] : this.auth;
  }

  list(): BrokerHooks[] {
    return this.sets.slice();
  }

  authenticate(req: AuthenticateRequest): Answer<AuthResult | undefined> {
    const hooks = req.authenticationMethod && this.security ? this.authEnhanced : this.auth;
    return this.firstAnswer(hooks, 0, (h) => h.authenticate!(req));
  }

  authContinue(req: AuthenticateRequest): Answer<AuthResult | undefined> {
    return this.firstAnswer(this.authCont, 0, (h) => h.authContinue!(req));
  }

  private firstAnswer(
    hooks: BrokerHooks[],
    from: number,
    call: (h: BrokerHooks) => Answer<AuthResult | undefined>,
  ): Answer<AuthResult | undefined> {
    for (let i = from; i < hooks.length; i++) {
      let r: Answer<AuthResult | undefined>;
      try {
        r = call(hooks[i]!);
      } catch (e) {
        return { reasonCode: RC.UNSPECIFIED_ERROR, reasonString: `authentication hook failed: ${(e as Error).message}` };
      }
      if (isPromise<AuthResult | undefined>(r)) {
        return r.then(
          (v) => (v !== undefined ? v : this.firstAnswer(hooks, i + 1, call)),
          (e: Error) => ({ reasonCode: RC.UNSPECIFIED_ERROR, reasonString: `authentication hook failed: ${e.message}` }),
        );
      }
      if (r !== undefined) return r;
    }
    return undefined;
  }

  authorizePublish(client: ClientIdentity, msg: BrokerMessage): Answer<number> {
    return this.everyAllows(this.pub, 0, (h) => h.authorizePublish!(client, msg));
  }

  authorizeSubscribe(client: ClientIdentity, sub: Subscription): Answer<number> {
    return this.everyAllows(this.sub, 0, (h) => h.authorizeSubscribe!(client, sub));
  }

  private everyAllows(
    hooks: BrokerHooks[],
    from: number,
    call: (h: BrokerHooks) => Answer<boolean | number>,
  ): Answer<number> {
    for (let i = from; i < hooks.length; i++) {
      let r: Answer<boolean | number>;
      try {
        r = call(hooks[i]!);
      } catch {
        return RC.NOT_AUTHORIZED;
      }
      if (isPromise<boolean | number>(r)) {
        return r.then(
          (v) => {
            const rc = toReasonCode(v);
            return rc ? rc : this.everyAllows(hooks, i + 1, call);
          },
          () => RC.NOT_AUTHORIZED,
        );
      }
      const rc = toReasonCode(r);
      if (rc) return rc;
    }
    return 0;
  }

  /** Per delivery (read ACL). Only called when hasRead. */
  authorizeRead(client: ClientIdentity, msg: BrokerMessage): boolean {
    const read = this.read;
    for (let i = 0; i < read.length; i++) {
      try {
        if (read[i]!.authorizeRead!(client, msg) === false) return false;
      } catch {
        return false;
      }
    }
    return true;
  }
}

export { isPromise };
