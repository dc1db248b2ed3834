/**
 * thingsboard-telemetry: Node-RED glue around the pure formatter in src/thingsboard/.
 *
 * Configuration is checked once at construction (an invalid one gives a red status, an error and
 * an error for every message). Each message: `msg.thingsboard` overrides are merged and checked,
 * the formatter runs, and either every publish is sent in order on the one output (the gateway
 * connect first) with a green status, or `done(err)` reports the error once (Catch nodes see it
 * with the message) with a red status and nothing is sent.
 */
import { formatTelemetry, mergeOptions, optionsFromConfig, type TbFormatError, type TbFormatOptions } from '../../thingsboard';

/** At most this many warnings are spelled out per message; the rest are counted. */
const MAX_WARNINGS_SHOWN = 10;

export = function (RED: any): void {
  function ThingsboardTelemetryNode(this: any, config: Record<string, unknown>): void {
    RED.nodes.createNode(this, config);
    const t = (key: string, vars?: Record<string, unknown>): string => RED._(`thingsboard-telemetry.${key}`, vars);

    let base: TbFormatOptions | undefined;
    let configError: string | undefined;
    try {
      base = optionsFromConfig(config);
    } catch (err) {
      configError = err instanceof Error ? err.message : String(err);
    }
    if (configError !== undefined) {
      this.status({ fill: 'red', shape: 'ring', text: t('status.badConfig') });
      this.error(`${t('errors.badConfig')}: ${configError}`);
    } else if (base?.numericStrings === 'keep') {
      this.warn(t('warnings.keepNumericStrings'));
    }

    /** gateway devices already announced with v1/gateway/connect (until redeploy or msg.reset) */
    const known = new Set<string>();

    this.on('input', (msg: any, send: (m: unknown) => void, done: (err?: Error) => void) => {
      const fail = (err: Error, statusText: string): void => {
        this.status({ fill: 'red', shape: 'dot', text: statusText });
        done(err); // reported once, with msg, so a Catch node sees it
      };
      if (configError !== undefined || !base) {
        fail(new Error(`${t('errors.badConfig')}: ${configError ?? ''}`), t('status.badConfig'));
        return;
      }
      if (msg.reset === true) {
        known.clear();
        if (msg.payload === undefined) {
          this.status({ fill: 'grey', shape: 'ring', text: t('status.reset') });
          done();
          return;
        }
      }
      let opts: TbFormatOptions;
      try {
        opts = mergeOptions(base, msg.thingsboard, 'msg.thingsboard');
      } catch (err) {
        fail(err as Error, t('status.error', { code: (err as TbFormatError).code ?? 'ERROR' }));
        return;
      }
      let result: ReturnType<typeof formatTelemetry>;
      try {
        result = formatTelemetry({
          payload: msg.payload,
          topic: msg.topic,
          key: msg.key,
          device: msg.device,
          deviceType: msg.deviceType,
          timestamp: msg.timestamp,
          mqttProperties: msg,
        }, opts, { knownDevices: known });
      } catch (err) {
        // not expected (bad input gives a result, not an exception); still never crash the flow
        fail(err instanceof Error ? err : new Error(String(err)), t('status.error', { code: 'INTERNAL' }));
        return;
      }

      if (result.warnings.length) {
        const shown = result.warnings.slice(0, MAX_WARNINGS_SHOWN);
        const more = result.warnings.length - shown.length;
        this.warn(shown.join('\n') + (more > 0 ? `\n${t('warnings.more', { count: more })}` : ''));
      }
      if (!result.ok) {
        fail(result.error, t('status.error', { code: result.error.code }));
        return;
      }
      const out: any[] = result.publishes.map((p, i) => {
        const m = i === result.publishes.length - 1 ? msg : RED.util.cloneMessage(msg);
        m.topic = p.topic;
        m.payload = p.payload;
        return m;
      });
      for (const p of result.publishes) if (p.kind === 'connect' && p.device !== undefined) known.add(p.device);
      const msgs = result.publishes.length;
      if (result.dropped > 0) {
        this.status({ fill: 'yellow', shape: 'dot', text: t('status.sentDropped', { values: result.values, msgs, dropped: result.dropped }) });
      } else {
        this.status({ fill: 'green', shape: 'dot', text: t('status.sent', { values: result.values, msgs }) });
      }
      send([out]);
      done();
    });

    this.on('close', () => {
      known.clear();
    });
  }

  RED.nodes.registerType('thingsboard-telemetry', ThingsboardTelemetryNode);
};
