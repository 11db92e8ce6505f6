// The Temporal runtime of a test process, installed once and quiet: the release notes every step with log.info and
// the native core logs at WARN (e.g. every non-determinism the replay test provokes on purpose); tests read the
// timeline and the assertions instead.
import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

export function quietRuntime(): void {
  if (installed) return;
  installed = true;
  try {
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
    });
  } catch {
    // already installed in this process
  }
}
