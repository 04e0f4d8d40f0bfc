import { adapterConformance } from '@crm-sync/adapter-testkit';
import { startSimulatorServer } from '@crm-sync/dynamics-simulator';
import { createDynamicsAdapter } from '../src/index.js';
import { emptyOrg, simulatorControl } from './kit-control.js';

// The standalone simulator on 127.0.0.1: real HTTP, real sockets, one server per test.
adapterConformance('dynamics (standalone simulator over HTTP)', async ({ pageSize }) => {
  const server = await startSimulatorServer({ ...emptyOrg, limits: { enabled: false } });
  const adapter = createDynamicsAdapter({
    environmentUrl: server.url,
    auth: { kind: 'static-token', token: server.simulator.tokens.sync },
    pageSize,
    retry: { baseDelayMs: 10, maxDelayMs: 50 },
  });
  return { adapter, control: simulatorControl(server.simulator), cleanup: () => server.close() };
});
