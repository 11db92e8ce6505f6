// The API's root router. Its type, AppRouter, is what the CLI and web page import.
import { router } from '../trpc';
import { calendarRouter } from './calendar';
import { releaseRouter } from './release';
import { rollbackRouter } from './rollback';

export const appRouter = router({
  release: releaseRouter,
  rollback: rollbackRouter,
  calendar: calendarRouter,
});

export type AppRouter = typeof appRouter;
