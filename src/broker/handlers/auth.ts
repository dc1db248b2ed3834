/**
 * AUTH (MQTT 5 section 3.15, enhanced authentication section 4.12): continues a CONNECT that a
 * hook answered with 0x18, or re-authenticates a connected client (0x19).
 */
import type { AuthenticateRequest, AuthResult } from '../types';
import { ConnState, type Connection } from '../connection';
import { RC } from '../capabilities';
import { isPromise } from '../hooks';
import { pendingConnect, sendConnackError } from './connect';

export function handleAuth(c: Connection, p: any): void {
  const props = p.properties ?? {};
  const rc: number = p.reasonCode ?? 0;
  // [MQTT-4.12.0-5] the method must be the one given in CONNECT.
  if (props.authenticationMethod !== c.authMethod || !c.authMethod) {
    if (c.state === ConnState.Authenticating) return sendConnackError(c, RC.PROTOCOL_ERROR, 'authentication method mismatch');
    return c.close(RC.PROTOCOL_ERROR, 'authentication method mismatch');
  }
  const req: AuthenticateRequest = { ...c.identity, authenticationMethod: c.authMethod };
  if (props.authenticationData) req.authenticationData = props.authenticationData;
  if (c.state === ConnState.Authenticating) {
    const pend = pendingConnect.get(c);
    if (!pend || rc !== RC.CONTINUE_AUTHENTICATION) return sendConnackError(c, RC.PROTOCOL_ERROR, 'unexpected AUTH');
    req.password = pend.req.password;
    c.suspend();
    const r = c.broker.hooks.authContinue(req);
    if (isPromise<AuthResult | undefined>(r)) r.then(pend.finishAuth, () => pend.finishAuth({ reasonCode: RC.UNSPECIFIED_ERROR }));
    else pend.finishAuth(r);
    return;
  }
  // re-authentication of a connected client [MQTT-4.12.1-1]
  if (rc !== RC.REAUTHENTICATE && rc !== RC.CONTINUE_AUTHENTICATION) return c.close(RC.PROTOCOL_ERROR, 'unexpected AUTH reason');
  c.suspend();
  const done = (res: AuthResult | undefined): void => {
    c.resume();
    if (!res) return c.close(RC.NOT_AUTHORIZED, 're-authentication not supported');
    const properties: any = { authenticationMethod: c.authMethod };
    if (res.authenticationData) properties.authenticationData = res.authenticationData;
    if (res.reasonCode === RC.CONTINUE_AUTHENTICATION) return c.send({ cmd: 'auth', reasonCode: RC.CONTINUE_AUTHENTICATION, properties });
    if (res.reasonCode === 0) return c.send({ cmd: 'auth', reasonCode: 0, properties });
    // [MQTT-4.12.1-2] failed re-authentication: DISCONNECT with the reason
    c.close(res.reasonCode, res.reasonString);
  };
  const r = c.broker.hooks.authContinue(req);
  if (isPromise<AuthResult | undefined>(r)) r.then(done, () => done({ reasonCode: RC.UNSPECIFIED_ERROR }));
  else done(r);
}
