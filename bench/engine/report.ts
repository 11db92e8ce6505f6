// The summary: one row per measure with the engine's value, the bare baseline's, their ratio and the goal.
import { median, percentile } from '../support';
import type { ApprovalResults, ParkRun } from './parked';
import type { OrchestrationResults } from './orchestration';
import type { StartRun } from './starts';

export interface Row {
  measure: string;
  unit: string;
  engine?: number | undefined;
  bare?: number | undefined;
  /** The goal in words, and whether this run met it (undefined: no goal, or not measured). */
  goal: string;
  met?: boolean | undefined;
  /** Printed instead of engine/bare (a ratio that is itself the measure). */
  digits?: number;
}

const ratio = (row: Row) =>
  row.engine !== undefined && row.bare !== undefined && row.bare !== 0 ? row.engine / row.bare : undefined;

export function summaryRows(parts: {
  regions: number;
  orchestration?: OrchestrationResults | undefined;
  approvals?: ApprovalResults | undefined;
  parked?: ParkRun[] | undefined;
  starts?: StartRun[] | undefined;
}): Row[] {
  const rows: Row[] = [];
  const of = <T extends { kind: 'engine' | 'bare' }>(runs: T[], kind: 'engine' | 'bare') =>
    runs.filter((r) => r.kind === kind);

  const p1 = parts.orchestration?.p1 ?? [];
  const p1Wall = {
    engine: median(of(p1, 'engine').map((r) => r.seconds)),
    bare: median(of(p1, 'bare').map((r) => r.seconds)),
  };
  rows.push({ measure: 'P1 wall, 10 regions', unit: 's', ...p1Wall, goal: '<= 1.3x', digits: 2 });
  const events = {
    engine: median(of(p1, 'engine').map((r) => r.counts.events / parts.regions)),
    bare: median(of(p1, 'bare').map((r) => r.counts.events / parts.regions)),
  };
  rows.push({
    measure: 'P1 history events per region',
    unit: 'events',
    ...events,
    goal: '<= 90 (engine)',
    met: events.engine === undefined ? undefined : events.engine <= 90,
    digits: 1,
  });

  const p2 = parts.approvals?.runs ?? [];
  rows.push({
    measure: 'P2 approve p50',
    unit: 'ms',
    engine: median(of(p2, 'engine').map((r) => r.ms)),
    bare: median(of(p2, 'bare').map((r) => r.ms)),
    goal: '<= 1.5x',
    digits: 1,
  });

  const p3 = parts.parked ?? [];
  for (const n of [...new Set(p3.map((r) => r.parked))]) {
    const engine = p3.find((r) => r.kind === 'engine' && r.parked === n);
    const bare = p3.find((r) => r.kind === 'bare' && r.parked === n);
    rows.push({
      measure: `P3 RSS per parked (${n})`,
      unit: 'MiB',
      engine: engine?.perParkedMiB,
      bare: bare?.perParkedMiB,
      goal: '<= 0.5 MB (engine)',
      met: engine ? engine.perParkedMiB <= 0.5 : undefined,
      digits: 3,
    });
    rows.push({
      measure: `P3 worker RSS, ${n} parked`,
      unit: 'MiB',
      engine: engine?.rssParkedMiB,
      bare: bare?.rssParkedMiB,
      goal: n === 1000 ? '< 1 GB (engine)' : '-',
      met: n === 1000 && engine ? engine.rssParkedMiB < 1024 : undefined,
      digits: 0,
    });
    rows.push({
      measure: `P3 time to park ${n}`,
      unit: 's',
      engine: engine?.parkSeconds,
      bare: bare?.parkSeconds,
      goal: '-',
      digits: 1,
    });
    rows.push({
      measure: `P3 time to approve ${n} until done`,
      unit: 's',
      engine: engine?.approveAllSeconds,
      bare: bare?.approveAllSeconds,
      goal: '-',
      digits: 1,
    });
  }

  const p4 = parts.orchestration?.p4 ?? [];
  const p4At = (kind: 'engine' | 'bare', regions: number) =>
    median(p4.filter((r) => r.kind === kind && r.regions === regions).map((r) => r.seconds));
  rows.push({
    measure: `P4 emergency rollback, ${parts.regions} regions`,
    unit: 's',
    engine: p4At('engine', parts.regions),
    bare: p4At('bare', parts.regions),
    goal: '-',
    digits: 2,
  });
  rows.push({
    measure: 'P4 emergency rollback, 1 region',
    unit: 's',
    engine: p4At('engine', 1),
    bare: p4At('bare', 1),
    goal: '-',
    digits: 2,
  });
  const tenOverOne = (kind: 'engine' | 'bare') => {
    const ten = p4At(kind, parts.regions);
    const one = p4At(kind, 1);
    return ten !== undefined && one ? ten / one : undefined;
  };
  rows.push({
    measure: `P4 ${parts.regions} regions / 1 region`,
    unit: 'x',
    engine: tenOverOne('engine'),
    bare: tenOverOne('bare'),
    goal: 'near 1x (no number set)',
    digits: 2,
  });

  const p6 = parts.starts ?? [];
  const rate = (kind: 'engine' | 'bare') => median(of(p6, kind).map((r) => r.started / r.seconds));
  const latencies = (kind: 'engine' | 'bare') => of(p6, kind).flatMap((r) => r.latenciesMs);
  const p6Rate = { engine: rate('engine'), bare: rate('bare') };
  rows.push({
    measure: 'P6 starts per second (16 callers)',
    unit: '/s',
    ...p6Rate,
    goal: '>= 0.8x',
    met: p6Rate.engine !== undefined && p6Rate.bare ? p6Rate.engine / p6Rate.bare >= 0.8 : undefined,
    digits: 1,
  });
  rows.push({
    measure: 'P6 start p50',
    unit: 'ms',
    engine: percentile(latencies('engine'), 50),
    bare: percentile(latencies('bare'), 50),
    goal: '-',
    digits: 0,
  });
  rows.push({
    measure: 'P6 start p99',
    unit: 'ms',
    engine: percentile(latencies('engine'), 99),
    bare: percentile(latencies('bare'), 99),
    goal: '<= 2x',
    digits: 0,
  });
  // Every 5xx the API answered (P3's starts and approvals, P6's starts), and the bare calls that failed.
  const answered = (status: RegExp) =>
    parts.starts === undefined && parts.parked === undefined
      ? undefined
      : [
          ...of(p6, 'engine').flatMap((r) => Object.entries(r.outcomes)),
          ...of(p3, 'engine').flatMap((r) => Object.entries(r.failures)),
        ]
          .filter(([k]) => status.test(k))
          .reduce((n, [, v]) => n + v, 0);
  const bareFailures =
    parts.starts === undefined && parts.parked === undefined
      ? undefined
      : [
          ...of(p6, 'bare').flatMap((r) => Object.entries(r.outcomes).filter(([k]) => k !== 'started')),
          ...of(p3, 'bare').flatMap((r) => Object.entries(r.failures)),
        ].reduce((n, [, v]) => n + v, 0);
  const internal = answered(/HTTP 500$/);
  rows.push({
    measure: 'P3+P6 HTTP 500 answers / bare errors',
    unit: 'calls',
    engine: internal,
    bare: bareFailures,
    goal: '0 (a 500 is a bug)',
    met: internal === undefined ? undefined : internal === 0,
    digits: 0,
  });
  rows.push({
    measure: 'P3+P6 other HTTP 5xx (e.g. 503)',
    unit: 'calls',
    engine: answered(/HTTP 5(0[1-9]|[1-9]\d)$/),
    goal: '-',
    digits: 0,
  });

  // Goals stated as a ratio are judged on the ratio.
  for (const row of rows) {
    const r = ratio(row);
    const bound = /^(<=|>=) ([\d.]+)x$/.exec(row.goal);
    if (row.met === undefined && bound && r !== undefined) {
      row.met = bound[1] === '<=' ? r <= Number(bound[2]) : r >= Number(bound[2]);
    }
  }
  return rows;
}

export function table(rows: Row[]): string {
  const fmt = (n: number | undefined, digits = 1) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));
  const lines: string[][] = [
    ['measure', 'unit', 'engine', 'bare', 'engine/bare', 'goal (issue 12)', 'met'],
    ...rows.map((row) => {
      const r = ratio(row);
      return [
        row.measure,
        row.unit,
        fmt(row.engine, row.digits),
        fmt(row.bare, row.digits),
        r === undefined ? '-' : `${r.toFixed(2)}x`,
        row.goal,
        row.met === undefined ? '' : row.met ? 'yes' : 'NO',
      ];
    }),
  ];
  const widths = (lines[0] ?? []).map((_, c) => Math.max(...lines.map((line) => (line[c] ?? '').length)));
  return lines
    .map((line) =>
      line
        .map((cell, c) => (c === 0 || c >= 5 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
