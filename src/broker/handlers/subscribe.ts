/**
 * SUBSCRIBE (MQTT 5 section 3.8): filter and $share validation, capabilities, authorization,
 * SUBACK with one reason code per filter, then retained messages per Retain Handling.
 */
import type { QoS, Subscription } from '../types';
import type { Connection } from '../connection';
import { RC } from '../capabilities';
import { isPromise } from '../hooks';
import { hasWildcard, parseFilter, type ParsedFilter } from '../routing/topics';

export function handleSubscribe(c: Connection, p: any): void {
  // [MQTT-2.2.1-3] SUBSCRIBE / UNSUBSCRIBE carry a non-zero packet identifier
  if (!p.messageId) return c.close(RC.PROTOCOL_ERROR, 'packet identifier 0');
  const broker = c.broker;
  const limits = broker.limits;
  const v5 = c.protocolVersion === 5;
  const subId: number | undefined = v5 ? p.properties?.subscriptionIdentifier : undefined;
  if (subId !== undefined) {
    // 3.2.2.3.12 / 3.8.2.1.2: Subscription Identifiers not available -> DISCONNECT 0xA1.
    if (!limits.subscriptionIdentifiersAvailable) return c.close(RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED, 'subscription identifiers not supported');
    // a Subscription Identifier of 0 is a protocol error (3.8.2.1.2)
    if (subId === 0) return c.close(RC.PROTOCOL_ERROR, 'subscription identifier 0');
  }
  const reqs: any[] = p.subscriptions ?? [];
  // [MQTT-3.8.3-2] at least one subscription
  if (reqs.length === 0) return c.close(RC.PROTOCOL_ERROR, 'SUBSCRIBE without subscriptions');
  const codes: number[] = new Array(reqs.length);
  const subs: Array<Subscription | null> = new Array(reqs.length);
  const parsed: Array<ParsedFilter | null> = new Array(reqs.length);
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < reqs.length; i++) {
    const r = reqs[i];
    subs[i] = null;
    parsed[i] = null;
    const pf = parseFilter(r.topic, limits);
    if (typeof pf === 'number') {
      // [MQTT-4.8.2-2] [MQTT-4.7.1-1] invalid filter or share name: 0x8F.
      codes[i] = v5 ? pf : 0x80;
      continue;
    }
    if (pf.group !== undefined) {
      if (!limits.sharedSubscriptionAvailable) {
        codes[i] = v5 ? RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED : 0x80;
        continue;
      }
      // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error.
      if (r.nl) return c.close(RC.PROTOCOL_ERROR, 'no local on a shared subscription');
    }
    if (!limits.wildcardSubscriptionAvailable && hasWildcard(pf.filter)) {
      codes[i] = v5 ? RC.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED : 0x80;
      continue;
    }
    // [MQTT-3.2.2-9] granted QoS never above the server's Maximum QoS
    const qos = Math.min(r.qos ?? 0, limits.maximumQoS) as QoS;
    const sub: Subscription = { topicFilter: r.topic, qos };
    if (v5) {
      if (r.nl) sub.nl = true;
      if (r.rap) sub.rap = true;
      if (r.rh) sub.rh = r.rh;
      if (subId !== undefined) sub.subscriptionIdentifier = subId;
    }
    parsed[i] = pf;
    subs[i] = sub;
    codes[i] = qos;
    if (broker.hooks.hasSubscribe) {
      const a = broker.hooks.authorizeSubscribe(c.identity, sub);
      const apply = (rc: number): void => {
        if (rc !== 0) {
          codes[i] = v5 ? rc : 0x80;
          subs[i] = null;
        }
      };
      if (isPromise<number>(a)) pending.push(a.then(apply, () => apply(RC.NOT_AUTHORIZED)));
      else apply(a);
    }
  }
  const finish = (): void => {
    if (c.state === 3 /* closed */) return;
    const s = c.session!;
    const added: Subscription[] = [];
    const retainedFor: Array<{ sub: Subscription; filter: string }> = [];
    for (let i = 0; i < reqs.length; i++) {
      const sub = subs[i];
      const pf = parsed[i];
      if (!sub || !pf) continue;
      const existed = broker.addSubscription(s, sub);
      added.push(sub);
      // [MQTT-3.3.1-9] rh 0: send retained; [MQTT-3.3.1-10] rh 1: only for a new subscription;
      // [MQTT-3.3.1-11] rh 2: never. Shared subscriptions get no retained messages (4.8.2).
      const rh = sub.rh ?? 0;
      if (pf.group === undefined && (rh === 0 || (rh === 1 && !existed))) retainedFor.push({ sub, filter: pf.filter });
    }
    // [MQTT-3.8.4-1] SUBACK with the same packet id, one reason code per filter [MQTT-3.8.4-6].
    const suback: any = { cmd: 'suback', messageId: p.messageId, granted: codes };
    if (v5) {
      const failed = codes.some((x) => x >= 0x80);
      const props = c.reasonProps(failed ? 'one or more subscriptions were refused' : undefined);
      if (props) suback.properties = props;
    }
    c.send(suback);
    if (added.length) {
      if (s.persistent) broker.saveSession(s);
      broker.emit('subscribed', { clientId: s.clientId, subscriptions: added });
    }
    for (const r of retainedFor) broker.sendRetained(s, r.sub, r.filter);
  };
  if (pending.length === 0) return finish();
  c.suspend();
  Promise.all(pending).then(() => {
    finish();
    c.resume();
  });
}
