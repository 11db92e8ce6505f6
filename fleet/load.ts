// Synthetic traffic for the demo fleet, so routers have requests to count and canary analysis has data.
import { Agent, get } from 'node:http';

export class LoadGenerator {
  private timers: NodeJS.Timeout[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });

  /**
   * Sends `rps` GET / requests per second to each URL until stopped, skipping the ticks when its `active` says no.
   * Responses are read and dropped.
   */
  start(targets: { url: string; active?: () => boolean }[], rps: number): void {
    const every = Math.max(1, Math.round(1000 / rps));
    for (const { url, active } of targets) {
      const timer = setInterval(() => {
        if (active && !active()) return;
        const req = get(url, { agent: this.agent, timeout: 5000 }, (res) => res.resume());
        req.on('error', () => undefined);
        req.on('timeout', () => req.destroy());
      }, every);
      timer.unref();
      this.timers.push(timer);
    }
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.agent.destroy();
  }
}
