// Polling for a condition, shared by every layer (engine.ts re-exports it for the acceptance tests).

/** Polls `check` every 200ms until it returns true; fails after `timeoutMs` with what was waited for. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`);
    await new Promise((done) => setTimeout(done, 200));
  }
}
