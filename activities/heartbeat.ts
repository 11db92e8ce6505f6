// Runs a long activity step while heartbeating, so a dead worker is noticed within the heartbeat timeout and the
// step is retried elsewhere; the activity's cancellation signal is handed to the step.
import { Context } from '@temporalio/activity';

export async function withHeartbeat<T>(step: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timeout = ctx.info.heartbeatTimeoutMs;
  const every = timeout ? Math.max(200, Math.floor(timeout / 3)) : 5000;
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), every);
  try {
    return await step(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
