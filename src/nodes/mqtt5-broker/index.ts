/**
 * mqtt5-broker: an embedded MQTT 3.1.1 / 5.0 broker as a Node-RED flow node.
 *
 * Output 1: broker events (connected, disconnected, subscribed, unsubscribed, authFailed) and the
 * replies to msg.action queries. Output 2: a copy of every publish matching the configured filters.
 * Input: msg.topic + msg.payload publish into the broker; msg.action = disconnect | clients |
 * subscriptions | stats.
 */
import type { BrokerMessage, ClientIdentity } from '../../broker/types';
import { ConfigError, parseConfig, topicMatches, type BrokerNodeConfig, type RawBrokerConfig, type RawCredentials, type TlsMaterial } from './config';
import { closeRuntime, hookRuntimeEvents, isShuttingDown, park, take } from './handover';
import { detachProperties } from '../shared/messages';
import { inputToPublish, isValidUtf8, type NodeMsg } from './input';
import { BrokerRuntime, type RuntimeSink } from './runtime';

type Send = (msg: Array<NodeMsg | null> | NodeMsg) => void;
type Done = (err?: Error) => void;

const STATUS_THROTTLE_MS = 500;

function statusText(rt: BrokerRuntime): { fill: string; shape: string; text: string } {
  const parts: string[] = [];
  const failed: string[] = [];
  for (const st of rt.listenerStates.values()) {
    const s = st.spec;
    const where =
      s.type === 'ws-path'
        ? `ws:${s.path}`
        : `${s.type === 'ws' && s.tls ? 'wss' : s.type}:${s.host === '0.0.0.0' || s.host === '::' ? '' : `${s.host}:`}${st.port ?? s.port}${s.type === 'ws' ? s.path : ''}`;
    if (st.state === 'failed') failed.push(`${where} ${st.error ?? 'failed'}`);
    else if (st.state === 'listening') parts.push(where);
  }
  const n = rt.clientCount();
  const clients = `${n} client${n === 1 ? '' : 's'}`;
  if (failed.length > 0) return { fill: 'red', shape: 'ring', text: `${failed.join('; ')}${parts.length ? ` | ${parts.join(' ')}` : ''} | ${clients}` };
  if (parts.length === 0) return { fill: 'yellow', shape: 'ring', text: 'starting' };
  return { fill: 'green', shape: 'dot', text: `${parts.join(' ')} | ${clients}` };
}

export = function (RED: any): void {
  hookRuntimeEvents(RED.events);

  function MqttBrokerNode(this: any, n: RawBrokerConfig) {
    RED.nodes.createNode(this, n);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED node constructors use `this`
    const node = this;
    let runtime: BrokerRuntime | null = null;
    let cfg: BrokerNodeConfig | null = null;
    let closed = false;
    let statusTimer: NodeJS.Timeout | null = null;
    let errorTimer: NodeJS.Timeout | null = null;
    let lastStatus = '';

    const setStatus = (s: { fill: string; shape: string; text: string }): void => {
      const key = JSON.stringify(s);
      if (key === lastStatus) return;
      lastStatus = key;
      node.status(s);
    };
    const refreshStatus = (): void => {
      if (runtime && !closed && !errorTimer) setStatus(statusText(runtime));
    };

    const sink: RuntimeSink = {
      event(topic, payload) {
        if (closed) return;
        node.send([{ topic, payload }, null]);
      },
      published(m: BrokerMessage, client: ClientIdentity | null) {
        if (closed || !cfg || cfg.outputs.copyFilters.length === 0) return;
        if (!cfg.outputs.copyFilters.some((f) => topicMatches(f, m.topic))) return;
        const mode = cfg.outputs.copyPayload;
        // copies: the broker keeps these buffers (retained, queued), the flow may change them in place
        const payload = mode === 'string' || (mode !== 'buffer' && isValidUtf8(m.payload)) ? m.payload.toString('utf8') : Buffer.from(m.payload);
        const out: NodeMsg = { topic: m.topic, payload, qos: m.qos, retain: m.retain, clientId: client ? client.clientId : (m.origin ?? '') };
        if (client?.username) out.username = client.username;
        const p = m.properties && detachProperties(m.properties);
        if (p) {
          out.properties = p;
          if (p.userProperties) out.userProperties = p.userProperties;
          if (p.contentType !== undefined) out.contentType = p.contentType;
          if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
          if (p.correlationData !== undefined) out.correlationData = p.correlationData;
          if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval;
          if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
        }
        node.send([null, out]);
      },
      statusChanged() {
        if (closed || statusTimer) return;
        refreshStatus();
        statusTimer = setTimeout(() => {
          statusTimer = null;
          refreshStatus();
        }, STATUS_THROTTLE_MS);
        statusTimer.unref();
      },
      warn(text) {
        node.warn(text);
      },
    };

    // ---- configuration ------------------------------------------------------------------------
    try {
      cfg = parseConfig(n, node.credentials as RawCredentials | undefined, {
        userDir: RED.settings?.userDir,
        httpNodeRoot: RED.settings?.httpNodeRoot,
        hasHttpServer: !!RED.server,
        tlsLookup: (id: string): TlsMaterial | string => {
          const t = RED.nodes.getNode(id);
          if (!t) return `TLS configuration ${id} not found`;
          if (t.valid === false) return 'the TLS configuration is invalid (see its error)';
          const o: Record<string, unknown> = {};
          if (typeof t.addTLSOptions === 'function') t.addTLSOptions(o);
          else Object.assign(o, { key: t.key, cert: t.cert, ca: t.ca });
          return {
            ...(o.key ? { key: o.key as Buffer } : {}),
            ...(o.cert ? { cert: o.cert as Buffer } : {}),
            ...(o.ca ? { ca: o.ca as Buffer } : {}),
            ...(typeof o.passphrase === 'string' ? { passphrase: o.passphrase } : {}),
          };
        },
      });
    } catch (e) {
      const text = e instanceof ConfigError ? e.message : `invalid configuration: ${(e as Error).message}`;
      cfg = null;
      // a parked broker of this node cannot be kept with an unusable config
      const stale = take(node.id);
      if (stale) void closeRuntime(stale);
      node.status({ fill: 'red', shape: 'ring', text });
      node.error(`mqtt5-broker: ${text}`);
    }

    // ---- start or adopt -----------------------------------------------------------------------
    const deps = { nodeId: node.id as string, server: RED.server, warn: (t: string) => node.warn(t) };
    let ready: Promise<void> = Promise.resolve();
    if (cfg) {
      const config = cfg;
      const adopted = take(node.id);
      node.status({ fill: 'yellow', shape: 'ring', text: adopted ? 'taking over' : 'starting' });
      ready = (async () => {
        let rt = adopted;
        if (rt) {
          let kept = false;
          try {
            kept = await rt.reconfigure(config);
          } catch (e) {
            node.warn(`mqtt5-broker: reconfiguration failed (${(e as Error).message}); restarting the broker`);
          }
          if (!kept) {
            await closeRuntime(rt);
            rt = undefined;
          }
        }
        if (!rt) rt = await BrokerRuntime.start(deps, config, closed ? null : sink);
        if (closed) {
          runtime = rt; // close() is waiting for `ready` and decides what to do with it
          return;
        }
        runtime = rt;
        rt.attach(sink);
        refreshStatus();
      })().catch((e: unknown) => {
        const text = (e as Error).message ?? String(e);
        node.status({ fill: 'red', shape: 'ring', text });
        node.error(`mqtt5-broker: ${text}`);
      });
    }

    // ---- input ----------------------------------------------------------------------------------
    let chain: Promise<void> = Promise.resolve();
    node.on('input', (msg: NodeMsg, send: Send, done: Done) => {
      chain = chain.then(() => ready).then(async () => {
        try {
          await handleInput(msg, send);
          done();
        } catch (e) {
          const text = (e as Error).message ?? String(e);
          // shown for a few seconds, then the listener/client status comes back
          setStatus({ fill: 'red', shape: 'ring', text });
          done(new Error(text));
          if (errorTimer) clearTimeout(errorTimer);
          errorTimer = setTimeout(() => {
            errorTimer = null;
            refreshStatus();
          }, 3000);
          errorTimer.unref();
        }
      });
    });

    async function handleInput(msg: NodeMsg, send: Send): Promise<void> {
      const rt = runtime;
      if (!rt || rt.closed) throw new Error('broker is not running (see the node status)');
      const b = rt.broker;
      const action = msg.action;
      if (action !== undefined && action !== null && action !== '') {
        const reply = (payload: unknown): void => {
          msg.payload = payload;
          send([msg, null]);
        };
        switch (action) {
          case 'clients':
            reply(b.clients());
            return;
          case 'subscriptions':
            reply(b.clients().flatMap((c) => c.subscriptions.map((s) => ({ clientId: c.clientId, username: c.username, ...s }))));
            return;
          case 'stats':
            reply(b.stats());
            return;
          case 'disconnect': {
            const p = msg.payload as Record<string, unknown> | string | undefined;
            const clientId = typeof msg.clientId === 'string' ? msg.clientId : typeof p === 'string' ? p : p && typeof p === 'object' && typeof p.clientId === 'string' ? p.clientId : '';
            if (!clientId) throw new Error('msg.action "disconnect" needs the client id in msg.clientId or msg.payload');
            const rcRaw = msg.reasonCode ?? (p && typeof p === 'object' ? p.reasonCode : undefined);
            const rc = rcRaw === undefined ? 0x98 : Number(rcRaw);
            if (!Number.isInteger(rc) || rc < 0 || rc > 255) throw new Error('msg.reasonCode must be an MQTT reason code (0-255)');
            const found = b.disconnectClient(clientId, rc);
            reply({ clientId, disconnected: found });
            return;
          }
          default:
            throw new Error(`unknown msg.action "${String(action)}" (expected disconnect, clients, subscriptions or stats)`);
        }
      }
      const pub = inputToPublish(msg);
      if (typeof pub === 'string') throw new Error(pub);
      await b.publish(pub);
    }

    // ---- close: park for the next instance, or stop -----------------------------------------
    node.on('close', (removed: boolean, done: () => void) => {
      closed = true;
      if (statusTimer) clearTimeout(statusTimer);
      if (errorTimer) clearTimeout(errorTimer);
      statusTimer = null;
      errorTimer = null;
      void ready.then(async () => {
        const rt = runtime;
        runtime = null;
        if (rt && !rt.closed) {
          if (removed || isShuttingDown()) await closeRuntime(rt);
          else park(node.id, rt);
        }
        if (removed) node.status({});
        done();
      });
    });
  }

  RED.nodes.registerType('mqtt5-broker', MqttBrokerNode, {
    credentials: {
      users: { type: 'text' },
    },
  });
};
