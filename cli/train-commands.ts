// relctl train ...: plan, start (and follow), status, list, approve, reject, abort.
import { parseArtifactRef } from '../domain/names';
import type { Api, Outputs } from './api-client';
import { UsageError } from './api-client';

type TrainView = Outputs['train']['get'];

export interface TrainFlags {
  json: boolean;
  wait: boolean;
  queue: boolean;
  lockstep: boolean;
  'on-failure'?: string | undefined;
  'change-class'?: string | undefined;
  'train-id'?: string | undefined;
  reason?: string | undefined;
  ticket?: string | undefined;
  comment?: string | undefined;
  author?: string[] | undefined;
  limit?: string | undefined;
}

function members(verb: string, args: string[]) {
  if (args.length === 0) throw new UsageError(`train ${verb} takes <service>@<version> for each member`);
  return args.map((arg) => {
    const ref = parseArtifactRef(arg);
    if (!ref) throw new UsageError(`train ${verb} takes <service>@<version> for each member, not "${arg}"`);
    return ref;
  });
}

function onFailureOf(value: string | undefined): 'rollback' | 'leave' | undefined {
  if (value === undefined || value === 'rollback' || value === 'leave') return value;
  throw new UsageError(`--on-failure must be rollback or leave, not "${value}"`);
}

function printPlan(plan: Outputs['train']['plan']) {
  console.log(`train ${plan.trainId} of ${plan.members.map((m) => `${m.service}@${m.version}`).join(', ')}:`);
  plan.stages.forEach((stage, i) => {
    const where = stage.environment ? ` (${stage.environment})` : '';
    console.log(`  stage ${i + 1}${where}: ${stage.members.map((m) => `${m.service}@${m.version}`).join(', ')}`);
  });
  console.log(
    `  if a member fails: ${plan.onFailure === 'rollback' ? `roll back ${plan.rollbackOrder.join(', then ')} (those released)` : 'leave the members already released'}`,
  );
}

function printStatus(train: TrainView) {
  console.log(`train ${train.trainId}: ${train.stage} (requested by ${train.requestedBy}, ${train.changeClass})`);
  for (const step of train.steps) {
    const where = step.environment ? ` in ${step.environment}` : '';
    console.log(
      `  ${`${step.service}@${step.version}${where}`.padEnd(36)} ${step.state.padEnd(12)} release ${step.releaseId}`,
    );
    if (step.reason && step.state !== 'succeeded') console.log(`  ${''.padEnd(36)} ${step.reason}`);
  }
  for (const undo of train.undo) console.log(`  undo ${undo.service.padEnd(31)} ${undo.state}`);
  if (train.gate) {
    const approvals = train.gate.decisions.filter((d) => d.decision === 'approve').length;
    console.log(`  approval: ${train.gate.status} (${approvals} of ${train.gate.quorum})`);
  }
  if (train.outcome) console.log(`  ${train.outcome.result}${train.outcome.reason ? `: ${train.outcome.reason}` : ''}`);
}

/** Runs `relctl train <verb> ...`; returns the exit code (1 when a followed train did not succeed). */
export async function trainCommand(api: Api, verb: string | undefined, args: string[], flags: TrainFlags) {
  const out = (value: unknown, human: () => void) =>
    flags.json ? console.log(JSON.stringify(value, null, 2)) : human();
  const onFailure = onFailureOf(flags['on-failure']);
  const request = (verbName: string) => ({
    members: members(verbName, args),
    lockstep: flags.lockstep,
    ...(onFailure ? { onFailure } : {}),
    ...(flags['change-class'] ? { changeClass: flags['change-class'] as 'standard' } : {}),
    ...(flags['train-id'] ? { trainId: flags['train-id'] } : {}),
    ...(flags.reason ? { reason: flags.reason } : {}),
    ...(flags.ticket ? { ticket: flags.ticket } : {}),
  });
  switch (verb) {
    case 'plan': {
      const plan = await api.train.plan.query(request('plan'));
      out(plan, () => printPlan(plan));
      return 0;
    }
    case 'start': {
      const authors =
        flags.author
          ?.flatMap((a) => a.split(','))
          .map((a) => a.trim())
          .filter(Boolean) ?? [];
      const started = await api.train.start.mutate({
        ...request('start'),
        queue: flags.queue,
        ...(authors.length ? { authors } : {}),
      });
      if (!flags.json) {
        console.log(`${started.alreadyStarted ? 'train already exists:' : 'started train'} ${started.trainId}`);
        printPlan(started.plan);
      }
      if (!flags.wait) {
        if (flags.json) console.log(JSON.stringify(started, null, 2));
        return 0;
      }
      let train: TrainView;
      let seen = 0;
      for (;;) {
        train = await api.train.get.query({ trainId: started.trainId });
        if (!flags.json)
          for (const e of train.timeline.slice(seen)) console.log(`  ${e.at.slice(11, 19)} ${e.message}`);
        seen = train.timeline.length;
        if (train.outcome) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      out(train, () => console.log(`train ${train.trainId}: ${train.stage}`));
      return train.outcome?.result === 'succeeded' ? 0 : 1;
    }
    case 'status': {
      const [trainId] = args;
      if (!trainId) throw new UsageError('train status needs <train-id>');
      const train = await api.train.get.query({ trainId });
      out(train, () => printStatus(train));
      return 0;
    }
    case 'list': {
      const limit = flags.limit === undefined ? undefined : Number(flags.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
        throw new UsageError(`--limit must be a whole number above 0, not "${flags.limit}"`);
      }
      const trains = await api.train.list.query(limit ? { limit } : {});
      out(trains, () => {
        if (trains.length === 0) console.log('no trains');
        for (const t of trains)
          console.log(`${t.startedAt.replace('T', ' ').slice(0, 19)}  ${t.trainId.padEnd(30)} ${t.stage}`);
      });
      return 0;
    }
    case 'approve':
    case 'reject': {
      const [trainId] = args;
      if (!trainId) throw new UsageError(`train ${verb} needs <train-id>`);
      if (verb === 'reject' && !flags.comment) throw new UsageError('train reject needs --comment saying why');
      const gate =
        verb === 'approve'
          ? await api.train.approve.mutate({ trainId, ...(flags.comment ? { comment: flags.comment } : {}) })
          : await api.train.reject.mutate({ trainId, comment: flags.comment ?? '' });
      out(gate, () =>
        console.log(
          `train ${trainId}: approval ${gate.status} (${gate.decisions.filter((d) => d.decision === 'approve').length} of ${gate.quorum})`,
        ),
      );
      return 0;
    }
    case 'abort': {
      const [trainId] = args;
      if (!trainId) throw new UsageError('train abort needs <train-id>');
      if (!flags.reason) throw new UsageError('train abort needs --reason');
      const aborted = await api.train.abort.mutate({ trainId, reason: flags.reason });
      out(aborted, () =>
        console.log(
          `aborting train ${trainId}: no member starts now${aborted.abortedReleases.length ? `; aborted ${aborted.abortedReleases.join(', ')}` : ''}; the members it released go back`,
        ),
      );
      return 0;
    }
    case undefined:
    default:
      throw new UsageError(`unknown command: train ${verb ?? ''}`);
  }
}
