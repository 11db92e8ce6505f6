// Freeze windows: before each environment, the release calendar is read; in a freeze the release waits for its end
// (or a calendar change), fails, or, for an emergency change, goes ahead with the override on record.
import { condition, patched } from '@temporalio/workflow';
import { releaseFailure } from '../failures';
import { activeFreeze } from '../../domain/freeze';
import { releaseActivities } from './activities';
import type { ReleaseRun } from './run-state';

export async function respectFreeze(run: ReleaseRun, environment: string): Promise<void> {
  const { plan, input } = run;
  for (;;) {
    // A calendar change from here on wakes the wait below, even one told while the wait is being recorded.
    const readAfter = run.freezeRechecks;
    const calendar = await releaseActivities.loadCalendar.executeWithOptions(
      { summary: `check the release calendar for ${environment}` },
      [],
    );
    const freeze = activeFreeze(calendar, new Date(), { service: plan.service, environment });
    if (!freeze) return;
    const names = freeze.windows.map((w) => `${w.id} (${w.reason})`).join(', ');
    if (plan.freeze.override) {
      run.note(`freeze ${names} overridden: emergency release, reason: ${input.reason ?? 'none given'}`);
      run.audit('freeze.overridden', { actor: input.requestedBy, reason: `${names}: ${input.reason ?? 'none given'}` });
      return;
    }
    if (plan.freeze.onFreeze === 'fail') {
      throw releaseFailure(
        'Frozen',
        `${environment} is frozen by ${names} until ${freeze.endsAt.toISOString()}, and this service fails releases in a freeze`,
      );
    }
    run.enterStage('waiting-for-freeze');
    run.note(`${environment} is frozen by ${names}; waiting until ${freeze.endsAt.toISOString()}`);
    run.audit('freeze.waiting', { reason: names, details: { environment, until: freeze.endsAt.toISOString() } });
    await run.record.flush();
    // Releases started before this fix forgot a change told during the audit write above.
    const since = patched('freeze-recheck-kept') ? readAfter : run.freezeRechecks;
    await condition(() => run.freezeRechecks !== since, Math.max(1000, freeze.endsAt.getTime() - new Date().getTime()));
  }
}
