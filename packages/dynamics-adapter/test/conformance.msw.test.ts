import { adapterConformance } from '@crm-sync/adapter-testkit';
import { adapterFor, useMsw } from './helpers.js';
import { emptyOrg, simulatorControl } from './kit-control.js';

const msw = useMsw();

// The simulator in-process: MSW answers the adapter's fetch calls on the simulated org's URL.
adapterConformance('dynamics (simulator over MSW)', async ({ pageSize }) => {
  const sim = msw.simulate(emptyOrg);
  return { adapter: adapterFor(sim, { pageSize }).crm, control: simulatorControl(sim) };
});
