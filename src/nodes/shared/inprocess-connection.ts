/**
 * Connection to the embedded broker of an `mqtt5-broker` node in the same Node-RED, through the
 * broker registry: no socket, no packet encoding. Follows the broker node across redeploys (the
 * registry announces every new broker); reconnects with backoff when the broker refuses or drops us.
 */
import type { Broker, InProcessClient, Subscription } from '../../broker/types';
import { watchBroker } from './broker-registry';
import { ConnectionOptions, MqttConnection, NotConnectedError, OutgoingMessage, withTimeout } from './connection';
import { detachProperties } from './messages';
import { describeError, isFailure, ReasonCodeError, reasonText } from './reason-codes';

export interface InProcessOptions extends ConnectionOptions {
  brokerNodeId: string;
}

export class InProcessConnection extends MqttConnection<InProcessOptions> {
  private broker: Broker | undefined;
  private client: InProcessClient | undefined;
  private unwatch: (() => void) | undefined;
  private connecting = false;

  get connected(): boolean {
    return !!this.client?.connected;
  }

  start(): void {
    if (this.unwatch || this.stopping) return;
    this.unwatch = watchBroker(this.opts.brokerNodeId, (b) => this.onBroker(b));
  }

  private onBroker(b: Broker | undefined): void {
    if (this.stopping) return;
    if (b === this.broker) return;
    this.broker = b;
    this.cancelRetry();
    this.attempt = 0;
    const old = this.client;
    this.client = undefined;
    if (old) {
      old.end().catch(() => undefined);
      this.lost({ reason: b ? 'embedded broker restarted' : 'embedded broker stopped' });
    }
    if (b) void this.connect();
    else if (!old) this.emit('disconnect', { reason: 'embedded broker is not running' });
  }

  private async connect(): Promise<void> {
    const broker = this.broker;
    if (!broker || this.stopping || this.connecting || this.client) return;
    this.connecting = true;
    this.emit('connecting');
    const o = this.opts;
    try {
      const client = await broker.connectInProcess({
        clientId: o.clientId,
        cleanStart: o.cleanStart,
        sessionExpiryInterval: o.sessionExpiryInterval,
        ...(o.username ? { username: o.username } : {}),
        ...(o.password ? { password: o.password } : {}),
        ...(o.userProperties && Object.keys(o.userProperties).length ? { userProperties: o.userProperties } : {}),
        ...(o.will ? { will: o.will } : {}),
      });
      this.connecting = false;
      if (this.stopping || broker !== this.broker) {
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      this.attempt = 0;
      client.on('message', (m) => {
        if (this.client !== client) return;
        // copies: the broker keeps these buffers (retained, queued, other subscribers), the flow may change them
        this.emit('message', { topic: m.topic, payload: Buffer.from(m.payload), qos: m.qos, retain: m.retain, properties: detachProperties(m.properties) });
      });
      client.on('disconnect', (info) => {
        if (this.client !== client) return;
        this.client = undefined;
        this.lost({
          reason: `broker disconnected: ${reasonText(info.reasonCode)}${info.reasonString ? ` (${info.reasonString})` : ''}`,
          reasonCode: info.reasonCode,
        });
      });
      client.on('close', () => {
        if (this.client !== client) return;
        this.client = undefined;
        this.lost({ reason: 'connection closed' });
      });
      const l = broker.options.limits ?? {};
      this._caps = {
        protocolVersion: 5,
        maximumPacketSize: l.maxPacketSize ?? 1024 * 1024,
        subscriptionIdentifiersAvailable: l.subscriptionIdentifiersAvailable !== false,
        sharedSubscriptionAvailable: l.sharedSubscriptionAvailable !== false,
        wildcardSubscriptionAvailable: l.wildcardSubscriptionAvailable !== false,
        retainAvailable: l.retainAvailable !== false,
        maximumQoS: l.maximumQoS ?? 2,
        topicAliasMaximum: 0,
        ...(client.clientId !== o.clientId ? { assignedClientIdentifier: client.clientId } : {}),
      };
      this.emit('connect', { sessionPresent: client.sessionPresent, caps: this._caps });
    } catch (err) {
      this.connecting = false;
      const code = (err as { reasonCode?: unknown }).reasonCode;
      this.lost({ reason: describeError(err), ...(typeof code === 'number' ? { reasonCode: code } : {}) });
    }
  }

  private lost(info: { reason: string; reasonCode?: number }): void {
    this._caps = undefined;
    this.emit('disconnect', info);
    if (this.broker) this.retryLater(() => void this.connect());
  }

  publish(msg: OutgoingMessage): Promise<void> {
    // a plain promise chain (no async wrapper): one step less per message
    try {
      const client = this.client;
      if (!client || !client.connected) throw new NotConnectedError();
      // copies (see 'message'): the flow may reuse msg.payload after done()
      return client
        .publish(msg.topic, Buffer.from(msg.payload), {
          qos: msg.qos,
          retain: msg.retain,
          ...(msg.properties ? { properties: detachProperties(msg.properties) } : {}),
        })
        .then(checkPublished);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async subscribe(subs: Subscription[]): Promise<number[]> {
    const client = this.client;
    if (!client || !client.connected) throw new NotConnectedError();
    // one call per subscription, mirroring one SUBSCRIBE per subscription identifier
    return Promise.all(subs.map(async (s) => (await client.subscribe([s]))[0] ?? 0x80));
  }

  async unsubscribe(filters: string[]): Promise<number[]> {
    const client = this.client;
    if (!client || !client.connected) return filters.map(() => 0);
    return client.unsubscribe(filters);
  }

  protected async shutdown(timeoutMs: number): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    const c = this.client;
    this.client = undefined;
    if (c) await withTimeout(c.end().catch(() => undefined), timeoutMs);
  }
}

function checkPublished(res: { reasonCode: number; reasonString?: string }): void {
  if (isFailure(res.reasonCode)) {
    throw new ReasonCodeError(
      `broker refused the message: ${reasonText(res.reasonCode)}${res.reasonString ? ` (${res.reasonString})` : ''}`,
      res.reasonCode,
    );
  }
}
