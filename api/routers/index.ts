// The API's root router. Its type, AppRouter, is what the CLI and web page import.
import { router } from '../trpc';
import { alertsRouter } from './alerts';
import { auditRouter } from './audit';
import { calendarRouter } from './calendar';
import { incidentRouter } from './incident';
import { checkRouter } from './check';
import { metricsRouter } from './metrics';
import { releaseRouter } from './release';
import { rollbackRouter } from './rollback';
import { serviceRouter } from './service';
import { trainRouter } from './train';

export const appRouter = router({
  release: releaseRouter,
  train: trainRouter,
  rollback: rollbackRouter,
  service: serviceRouter,
  calendar: calendarRouter,
  audit: auditRouter,
  metrics: metricsRouter,
  incident: incidentRouter,
  alerts: alertsRouter,
  check: checkRouter,
});

export type AppRouter = typeof appRouter;
