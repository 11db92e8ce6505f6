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

/**
 * For a long activity that carries on where a failed attempt stopped: `resumed` is the progress the last attempt
 * heartbeated (undefined on a first attempt); `beat(progress)` records new progress at once, and a timer keeps
 * heartbeating the latest between beats (always with the progress: a heartbeat without details would erase what a
 * retry needs). Call `stop()` when the activity ends.
 */
export function progressHeartbeat<P>(): { resumed: P | undefined; beat: (progress: P) => void; stop: () => void } {
  const ctx = Context.current();
  const resumed = ctx.info.heartbeatDetails as P | undefined;
  let latest = resumed;
  const send = () => ctx.heartbeat(latest);
  const timeout = ctx.info.heartbeatTimeoutMs;
  const timer = setInterval(send, timeout ? Math.max(200, Math.floor(timeout / 3)) : 5000);
  send();
  return {
    resumed,
    beat: (progress) => {
      latest = progress;
      send();
    },
    stop: () => clearInterval(timer),
  };
}
