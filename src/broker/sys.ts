/** $SYS/broker/... statistics, published retained every `sysInterval` seconds. */
import type { BrokerImpl } from './broker';
import { BROKER_VERSION } from './broker';

export class SysPublisher {
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly broker: BrokerImpl,
    private readonly intervalSec: number,
  ) {}

  start(): void {
    this.publish();
    this.timer = setInterval(() => this.publish(), this.intervalSec * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  publish(): void {
    const b = this.broker;
    if (b.closing) return;
    const st = b.stats();
    const pub = (t: string, v: string | number): void => b.publishSys(`$SYS/broker/${t}`, v);
    pub('version', BROKER_VERSION);
    pub('uptime', `${st.uptime} seconds`);
    pub('clients/connected', st.clientsConnected);
    pub('clients/total', st.clientsTotal);
    pub('clients/disconnected', st.clientsTotal - st.clientsConnected);
    pub('clients/maximum', st.clientsMaximum);
    pub('messages/received', st.messagesReceived);
    pub('messages/sent', st.messagesSent);
    pub('messages/dropped', st.messagesDropped);
    pub('messages/inflight', st.inflight);
    pub('messages/queued', st.queued);
    pub('bytes/received', st.bytesReceived);
    pub('bytes/sent', st.bytesSent);
    pub('subscriptions/count', st.subscriptions);
    pub('retained messages/count', st.retainedMessages);
  }
}
