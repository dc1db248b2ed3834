/**
 * `mqtt5-request`: MQTT 5 request / response. Publishes msg as a request with its own response topic
 * and a unique correlation data, waits for the reply and sends msg on with the reply as msg.payload;
 * a timeout or a refused request goes to done(err) (Catch nodes see it).
 */
import * as crypto from 'node:crypto';
import type { IncomingMessage } from '../shared/connection';
import { toNodeRedMessage } from '../shared/incoming';
import { describeValue, entriesToUserProperties, MessageError, OutputFormat } from '../shared/messages';
import { attachClient } from '../shared/node-glue';
import { buildPublish, PublishConfig } from '../shared/publish-builder';
import { isFailure, reasonText } from '../shared/reason-codes';
import { validatePublishTopic } from '../shared/topics';

interface RequestConfig extends PublishConfig {
  client?: string;
  /** Reply topic; default mqtt5-hub/response/<random>/<node id> */
  replyTopic?: string;
  /** seconds */
  timeout?: string | number;
  datatype?: OutputFormat;
}

interface Pending {
  msg: any;
  send: (m: unknown) => void;
  done: (e?: Error) => void;
  timer: NodeJS.Timeout;
}

export = function (RED: any): void {
  function Mqtt5RequestNode(this: any, config: RequestConfig): void {
    RED.nodes.createNode(this, config);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED node constructors use `this`
    const node = this;
    const format = (config.datatype || 'auto') as OutputFormat;
    const timeoutS = config.timeout === undefined || config.timeout === '' || config.timeout === null ? 10 : Number(config.timeout);
    const timeoutMs = timeoutS * 1000;
    const replyTopic =
      config.replyTopic || `mqtt5-hub/response/${crypto.randomBytes(4).toString('hex')}/${String(node.id).replace(/[+#/]/g, '_')}`;
    const rtError = validatePublishTopic(replyTopic);
    // the editor's range (setTimeout could not wait beyond 24.8 days anyway)
    const configError = rtError
      ? `reply topic: ${rtError}`
      : Number.isFinite(timeoutS) && timeoutS > 0 && timeoutS <= 86400
        ? undefined
        : `timeout must be a number of seconds from 0.001 to 86400 (got ${describeValue(config.timeout)})`;
    const pending = new Map<string, Pending>();
    let subError: string | undefined;
    const controller = attachClient(RED, node, config.client, () => `${pending.size} pending`, (s) => {
      const problem = configError ?? (s.state === 'connected' ? subError : undefined);
      return problem ? { fill: 'red', shape: 'ring', text: problem } : undefined;
    });
    const evaluate = RED.util.evaluateNodeProperty;
    const nodeProps = entriesToUserProperties(config.userProps);
    if (configError) node.error(configError);

    if (controller && !configError) {
      controller.subscribe(node, { filter: replyTopic, qos: 1 }, {
        onMessage(m: IncomingMessage) {
          const cd = m.properties.correlationData;
          const key = cd ? Buffer.from(cd).toString('hex') : '';
          const p = pending.get(key);
          if (!p) {
            node.warn(`reply on "${m.topic}" with unknown or late correlation data ${key || '(none)'}: ignored`);
            return;
          }
          pending.delete(key);
          clearTimeout(p.timer);
          const { msg: reply, error } = toNodeRedMessage(m, format);
          const msg = p.msg;
          msg.payload = reply.payload;
          msg.response = { ...reply };
          delete (msg.response as Record<string, unknown>).payload;
          node.refreshStatus?.();
          if (error) return p.done(new MessageError(`reply: ${error}`));
          p.send(msg);
          p.done();
        },
        onSubscribed(filter: string, code: number) {
          subError = isFailure(code) ? `subscribe to reply topic "${filter}" refused: ${reasonText(code)}` : undefined;
          if (subError) node.error(subError, { topic: filter, reasonCode: code, payload: subError });
          node.refreshStatus?.();
        },
      });
    }

    node.on('input', (msg: any, send: (m: unknown) => void, done: (e?: Error) => void) => {
      if (!controller) return done(new Error('no usable mqtt5-client configured'));
      if (configError) return done(new Error(configError));
      let out;
      try {
        // response topic and correlation data are the node's own: whatever msg carries is not used
        const req = { ...msg, responseTopic: undefined, correlationData: undefined };
        out = buildPublish(evaluate, node, { ...config, replyMode: false, responseTopic: '', correlationData: '' }, req, nodeProps);
      } catch (e) {
        return done(e as Error);
      }
      const cd = crypto.randomBytes(16);
      const key = cd.toString('hex');
      out.properties = { ...(out.properties ?? {}), responseTopic: replyTopic, correlationData: cd };
      const timer = setTimeout(() => {
        if (!pending.delete(key)) return;
        node.refreshStatus?.();
        done(new Error(`no reply on "${replyTopic}" within ${timeoutMs / 1000} s (request to "${out.topic}")`));
      }, timeoutMs);
      pending.set(key, { msg, send, done, timer });
      node.refreshStatus?.();
      controller.publish(out).catch((e: Error) => {
        if (!pending.delete(key)) return;
        clearTimeout(timer);
        node.refreshStatus?.();
        done(e);
      });
    });

    node.on('close', () => {
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.done(new Error('request cancelled: node stopped (redeploy or shutdown)'));
      }
      pending.clear();
    });
  }
  RED.nodes.registerType('mqtt5-request', Mqtt5RequestNode);
};
