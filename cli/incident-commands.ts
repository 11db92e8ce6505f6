// relctl incident ...: post-incident records: list, show, action add|close, assign, close.
import type { Api, Outputs } from './api-client';
import { UsageError } from './api-client';

type IncidentView = Outputs['incident']['get'];

export interface IncidentFlags {
  json: boolean;
  service?: string | undefined;
  open: boolean;
  owner?: string | undefined;
  resolution?: string | undefined;
  summary?: string | undefined;
}

function when(iso: string | undefined): string {
  return iso ? iso.replace('T', ' ').slice(0, 19) : '-';
}

/** A long reason cut at a word near 160 characters (--json has it whole). */
function shortened(text: string): string {
  if (text.length <= 160) return text;
  const cut = text.lastIndexOf(' ', 160);
  return `${text.slice(0, cut > 100 ? cut : 160)} …`;
}

function printIncident(incident: IncidentView) {
  const what = incident.kind === 'emergency-rollback' ? 'emergency rollback' : 'release';
  console.log(
    `incident ${incident.id} of ${incident.service}${incident.version ? `@${incident.version}` : ''}: ${incident.status} (${incident.kind}), owner ${incident.owner}`,
  );
  console.log(`  opened ${when(incident.openedAt)} when ${what} ${incident.id} ended: ${incident.summary}`);
  if (incident.status === 'closed') {
    console.log(`  closed ${when(incident.closedAt)} by ${incident.closedBy ?? '?'}: ${incident.closingSummary ?? ''}`);
  }
  if (incident.verdicts.length > 0) console.log('  verdicts:');
  for (const line of incident.verdicts) console.log(`    ${line}`);
  if (incident.decisions.length > 0) console.log('  decisions:');
  for (const line of incident.decisions) console.log(`    ${line}`);
  console.log('  timeline:');
  // A reason said once (the summary above, or an earlier line) is not repeated: long canary verdicts recur.
  const said = new Set([incident.summary]);
  for (const e of incident.timeline) {
    const where = e.region ? ` ${e.region}` : '';
    const reason = !e.reason ? '' : said.has(e.reason) ? ' (as above)' : `: ${shortened(e.reason)}`;
    if (e.reason) said.add(e.reason);
    console.log(`    ${when(e.at)}  ${e.actor.padEnd(12)} ${e.action}${where}${reason}`);
  }
  console.log(incident.actionItems.length > 0 ? '  action items:' : '  no action items yet');
  for (const item of incident.actionItems) {
    console.log(`    ${item.id.padEnd(10)} ${item.status.padEnd(7)} ${item.owner.padEnd(12)} ${item.text}`);
    if (item.status === 'closed')
      console.log(`    ${''.padEnd(10)} closed by ${item.closedBy ?? '?'}: ${item.resolution ?? ''}`);
  }
}

/** Runs `relctl incident <verb> ...`; returns the exit code. */
export async function incidentCommand(api: Api, verb: string | undefined, args: string[], flags: IncidentFlags) {
  const out = (value: unknown, human: () => void) =>
    flags.json ? console.log(JSON.stringify(value, null, 2)) : human();
  const ref = (usage: string) => {
    const [service, id] = args;
    if (!service || !id) throw new UsageError(`incident ${usage}`);
    return { service, id };
  };
  switch (verb) {
    case 'list': {
      const incidents = await api.incident.list.query({
        ...(flags.service ? { service: flags.service } : {}),
        ...(flags.open ? { status: 'open' as const } : {}),
      });
      out(incidents, () => {
        if (incidents.length === 0) console.log(flags.open ? 'no open incidents' : 'no incidents');
        for (const i of incidents) {
          console.log(
            `${when(i.openedAt)}  ${i.status.padEnd(6)} ${`${i.service} ${i.id}`.padEnd(36)} ${i.kind.padEnd(19)} owner ${i.owner}, ${i.openActions} of ${i.actionItems.length} action items open`,
          );
        }
      });
      return 0;
    }
    case 'show': {
      const incident = await api.incident.get.query(ref('show needs <service> <incident-id>'));
      out(incident, () => printIncident(incident));
      return 0;
    }
    case 'action': {
      const [sub, service, id, third] = args;
      if (sub === 'add') {
        if (!service || !id || !third) throw new UsageError('incident action add needs <service> <incident-id> "text"');
        const added = await api.incident.addAction.mutate({
          service,
          id,
          text: third,
          ...(flags.owner ? { owner: flags.owner } : {}),
        });
        out(added, () => console.log(`action item ${added.actionId} added to incident ${id} of ${service}`));
        return 0;
      }
      if (sub === 'close') {
        if (!service || !id || !third) {
          throw new UsageError('incident action close needs <service> <incident-id> <action-id> --resolution TEXT');
        }
        if (!flags.resolution) throw new UsageError('incident action close needs --resolution saying what was done');
        const incident = await api.incident.closeAction.mutate({
          service,
          id,
          actionId: third,
          resolution: flags.resolution,
        });
        const open = incident.actionItems.filter((i) => i.status === 'open').length;
        out(incident, () =>
          console.log(
            `action item ${third} closed; incident ${id} has ${open} open action item${open === 1 ? '' : 's'}`,
          ),
        );
        return 0;
      }
      throw new UsageError(`unknown command: incident action ${sub ?? ''}`);
    }
    case 'assign': {
      const { service, id } = ref('assign needs <service> <incident-id> <owner>');
      const owner = args[2];
      if (!owner) throw new UsageError('incident assign needs <service> <incident-id> <owner>');
      const incident = await api.incident.assign.mutate({ service, id, owner });
      out(incident, () => console.log(`incident ${id} of ${service} is owned by ${incident.owner}`));
      return 0;
    }
    case 'close': {
      const { service, id } = ref('close needs <service> <incident-id> --summary TEXT');
      if (!flags.summary) throw new UsageError('incident close needs --summary saying what the review concluded');
      const incident = await api.incident.close.mutate({ service, id, summary: flags.summary });
      out(incident, () => console.log(`incident ${id} of ${service}: ${incident.status}`));
      return 0;
    }
    case undefined:
    default:
      throw new UsageError(`unknown command: incident ${verb ?? ''}`);
  }
}
