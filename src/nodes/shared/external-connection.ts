/**
 * Connection to an external broker with mqtt.js v5 (mqtt://, mqtts://, ws://, wss://).
 * Reconnects itself with exponential backoff (mqtt.js' fixed-period reconnect is turned off);
 * resubscription is left to the owner (ClientController) so that it can restore subscriptions
 * before it flushes its offline queue.
 */
import * as mqtt from 'mqtt';
import type { PublishProperties, Subscription } from '../../broker/types';
import { ConnectionOptions, MqttConnection, NotConnectedError, OutgoingMessage } from './connection';
import { describeError, ReasonCodeError, reasonText } from './reason-codes';

export interface ExternalOptions extends ConnectionOptions {
  url: string;
  /** TLS options (ca, cert, key, rejectUnauthorized, servername...) from a tls-config node. */
  tls?: Record<string, unknown>;
  /** Let mqtt.js assign and use topic aliases when the broker allows them (MQTT 5). */
  topicAliases: boolean;
}

export class ExternalConnection extends MqttConnection<ExternalOptions> {
  private client: mqtt.MqttClient | undefined;
  private lastError: { reason: string; reasonCode?: number } | undefined;

  get connected(): boolean {
    return !!this.client?.connected;
  }

  start(): void {
    if (this.client || this.stopping) return;
    const o = this.opts;
    const v5 = o.protocolVersion === 5;
    const properties: Record<string, unknown> = {};
    if (v5) {
      if (o.sessionExpiryInterval > 0) properties.sessionExpiryInterval = o.sessionExpiryInterval;
      if (o.userProperties && Object.keys(o.userProperties).length) properties.userProperties = o.userProperties;
    }
    let will: mqtt.IClientOptions['will'];
    if (o.will) {
      const wp: Record<string, unknown> = {};
      if (v5 && o.will.properties) {
        for (const [k, val] of Object.entries(o.will.properties)) if (val !== undefined) wp[k] = val;
      }
      will = {
        topic: o.will.topic,
        payload: o.will.payload,
        qos: o.will.qos,
        retain: o.will.retain,
        ...(v5 && Object.keys(wp).length ? { properties: wp } : {}),
      } as mqtt.IClientOptions['will'];
    }
    const options: mqtt.IClientOptions = {
      ...(o.tls ?? {}),
      protocolVersion: o.protocolVersion,
      clientId: o.clientId,
      clean: o.cleanStart,
      keepalive: o.keepAlive,
      reconnectPeriod: 0,
      resubscribe: false,
      connectTimeout: o.connectTimeoutMs,
      manualConnect: true,
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(will ? { will } : {}),
      ...(v5 && Object.keys(properties).length ? { properties } : {}),
      ...(v5 && o.topicAliases ? { autoAssignTopicAlias: true, autoUseTopicAlias: true } : {}),
    };
    const client = mqtt.connect(o.url, options);
    this.client = client;
    client.on('connect', (connack) => {
      this.attempt = 0;
      this.lastError = undefined;
      const p = connack.properties ?? {};
      this._caps = {
        protocolVersion: o.protocolVersion,
        maximumPacketSize: p.maximumPacketSize,
        subscriptionIdentifiersAvailable: v5 && p.subscriptionIdentifiersAvailable !== false,
        sharedSubscriptionAvailable: p.sharedSubscriptionAvailable !== false,
        wildcardSubscriptionAvailable: p.wildcardSubscriptionAvailable !== false,
        retainAvailable: p.retainAvailable !== false,
        maximumQoS: (p.maximumQoS ?? 2) as 0 | 1 | 2,
        topicAliasMaximum: p.topicAliasMaximum ?? 0,
        assignedClientIdentifier: p.assignedClientIdentifier,
      };
      this.emit('connect', { sessionPresent: !!connack.sessionPresent, caps: this._caps });
    });
    client.on('message', (topic, payload, packet) => {
      this.emit('message', {
        topic,
        payload,
        qos: packet.qos,
        retain: !!packet.retain,
        properties: (packet.properties ?? {}) as PublishProperties,
      });
    });
    client.on('disconnect', (packet) => {
      const rc = packet.reasonCode ?? 0;
      const rs = packet.properties?.reasonString;
      this.lastError = { reason: `broker disconnected: ${reasonText(rc)}${rs ? ` (${rs})` : ''}`, reasonCode: rc };
    });
    client.on('error', (err) => {
      const code = (err as { code?: unknown }).code;
      this.lastError = {
        // before CONNACK under MQTT 3.1.1, numeric codes are CONNACK return codes (4 = bad credentials)
        reason: describeError(err, o.protocolVersion === 4 && !client.connected),
        ...(typeof code === 'number' ? { reasonCode: code } : {}),
      };
    });
    client.on('close', () => this.onClose());
    this.open(client);
  }

  /** One connection attempt; mqtt.js throws synchronously on some bad options: a reason, never an exception. */
  private open(client: mqtt.MqttClient): void {
    this.lastError = undefined;
    this.emit('connecting');
    try {
      client.connect();
    } catch (e) {
      this.lastError = { reason: describeError(e) };
      this.onClose();
    }
  }

  private onClose(): void {
    if (this.stopping) return;
    const info = this.lastError ?? { reason: 'connection lost' };
    this._caps = undefined;
    this.emit('disconnect', info);
    this.retryLater(() => {
      if (this.client && !this.client.connected) this.open(this.client);
    });
  }

  publish(msg: OutgoingMessage): Promise<void> {
    const client = this.client;
    if (!client || !client.connected) return Promise.reject(new NotConnectedError());
    const properties: Record<string, unknown> = {};
    if (this.opts.protocolVersion === 5 && msg.properties) {
      for (const [k, v] of Object.entries(msg.properties)) if (v !== undefined) properties[k] = v;
    }
    return new Promise((resolve, reject) => {
      client.publish(
        msg.topic,
        msg.payload,
        {
          qos: msg.qos,
          retain: msg.retain,
          ...(Object.keys(properties).length ? { properties } : {}),
        },
        (err) => {
          if (!err) return resolve();
          const code = (err as { code?: unknown }).code;
          if (typeof code === 'number') {
            reject(new ReasonCodeError(`broker refused the message: ${reasonText(code)}`, code));
          } else reject(err);
        },
      );
    });
  }

  subscribe(subs: Subscription[]): Promise<number[]> {
    const client = this.client;
    if (!client || !client.connected) return Promise.reject(new NotConnectedError());
    const v5 = this.opts.protocolVersion === 5;
    // One SUBSCRIBE per subscription: a subscription identifier belongs to the whole packet.
    return Promise.all(
      subs.map(
        (s) =>
          new Promise<number>((resolve, reject) => {
            const o: mqtt.IClientSubscribeOptions = { qos: s.qos };
            if (v5) {
              if (s.nl) o.nl = true;
              if (s.rap) o.rap = true;
              if (s.rh) o.rh = s.rh;
              if (s.subscriptionIdentifier) o.properties = { subscriptionIdentifier: s.subscriptionIdentifier };
            }
            client.subscribe(s.topicFilter, o, (err, granted, packet) => {
              // a refusal comes as an error; the SUBACK still carries the reason code
              const rc = packet?.granted?.[0];
              if (typeof rc === 'number') return resolve(rc);
              if (err) {
                const code = (err as { code?: unknown }).code;
                if (typeof code === 'number') return resolve(code);
                return reject(err);
              }
              resolve(granted?.[0]?.qos ?? 0x80);
            });
          }),
      ),
    );
  }

  unsubscribe(filters: string[]): Promise<number[]> {
    const client = this.client;
    if (!client || !client.connected) return Promise.resolve(filters.map(() => 0));
    return new Promise((resolve) => {
      client.unsubscribe(filters, (err, packet) => {
        if (err) return resolve(filters.map(() => 0x80));
        const rcs = (packet as { reasonCodes?: number[] } | undefined)?.reasonCodes;
        resolve(rcs ?? filters.map(() => 0));
      });
    });
  }

  protected async shutdown(timeoutMs: number): Promise<void> {
    const client = this.client;
    if (!client) return;
    // end() throws when no stream was ever made (a connect that threw): nothing to close then
    const end = (force: boolean, cb: () => void): void => {
      try {
        client.end(force, {}, cb);
      } catch {
        cb();
      }
    };
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        end(true, resolve);
        setTimeout(resolve, 200);
      }, timeoutMs);
      end(false, () => {
        clearTimeout(t);
        resolve();
      });
    });
    this.client = undefined;
  }
}
