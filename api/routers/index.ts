// The API's root router. Its type, AppRouter, is what the CLI and web page import.
import { router } from '../trpc';
import { releaseRouter } from './release';

export const appRouter = router({
  release: releaseRouter,
});

export type AppRouter = typeof appRouter;
