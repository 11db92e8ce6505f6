// One worker, several fleets: each service and environment goes to the driver the catalog names for it, and a
// region whose driver this process does not serve is refused by name, never sent to another fleet.
import { describe, expect, it } from 'vitest';
import { ServiceCatalog } from '../../domain/catalog';
import { FleetRouter } from '../../providers/fleet/fleet-router';
import { FleetError } from '../../providers/fleet/fleet-target';
import { MemoryFleet } from '../support/memory/fleet';

const exec = {
  driver: 'exec',
  sameAgeBaseline: true,
  commands: { deploy: ['d'], setTraffic: ['t'], promote: ['p'], revert: ['r'], status: ['s'] },
};
const catalog = ServiceCatalog.parse({
  services: [
    {
      name: 'web',
      environments: [
        { name: 'staging', waves: [['stg-1']] },
        { name: 'production', fleet: exec, waves: [['eu-1']] },
      ],
    },
    { name: 'billing', fleet: 'ssm', environments: [{ name: 'production', waves: [['eu-1']] }] },
  ],
});

describe('fleet router', () => {
  it('sends each service and environment to its own driver, and names what it cannot serve', async () => {
    const local = new MemoryFleet();
    local.addRegion('web', 'stg-1', '1.0.0');
    const execFleet = new MemoryFleet();
    execFleet.addRegion('web', 'eu-1', '1.0.0');
    const built: unknown[] = [];
    const router = new FleetRouter(
      catalog,
      {
        local: () => local,
        exec: (settings) => {
          built.push(settings.commands.deploy);
          return Object.assign(execFleet, { capabilities: { sameAgeBaseline: settings.sameAgeBaseline } });
        },
        ssm: { unavailable: 'AWS_REGION is not set' },
      },
      'the region agent for eu-1',
    );
    const deploy = { version: '1.1.0', digest: 'sha256:x', requestId: 'r1' };
    await router.deploy({ service: 'web', region: 'stg-1', ...deploy });
    await router.deploy({ service: 'web', region: 'eu-1', ...deploy });
    expect(local.calls.map((c) => `${c.operation} ${c.region}`)).toEqual(['deploy stg-1']);
    expect(execFleet.calls.map((c) => `${c.operation} ${c.region}`)).toEqual(['deploy eu-1']);
    expect(built).toEqual([['d']]); // built once, then reused
    expect(router.capabilitiesOf({ service: 'web', region: 'eu-1' })).toEqual({ sameAgeBaseline: true });

    const refused = await router.deploy({ service: 'billing', region: 'eu-1', ...deploy }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FleetError);
    expect((refused as FleetError).retryable).toBe(false);
    expect((refused as FleetError).message).toBe(
      'billing in eu-1 deploys with the ssm driver, which the region agent for eu-1 does not serve: AWS_REGION is not set',
    );
    // The drift check gets "unknown" rather than an error.
    expect(await router.running({ service: 'billing', region: 'eu-1' })).toMatchObject({ known: false });
    // A worker warns at start when a fleet gives the canary analysis no numbers (exec without metrics, ssm).
    expect(router.withoutMetrics().map((b) => b.where)).toEqual(['web (production)', 'billing (production)']);
    expect(router.servedDrivers()).toEqual([
      { driver: 'exec', served: true },
      { driver: 'local', served: true },
      { driver: 'ssm', served: false, why: 'AWS_REGION is not set' },
    ]);
  });
});
