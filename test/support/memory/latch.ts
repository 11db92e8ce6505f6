// A latch a test holds shut to make a provider call wait (a slow verification, a hung deploy), and opens when it
// wants the call to go on. Opening is final; every waiter, present and future, goes through.

export class Latch {
  private opened = false;
  private release: () => void = () => undefined;
  private readonly gate = new Promise<void>((resolve) => {
    this.release = resolve;
  });
  /** Calls currently waiting at the latch. */
  waiting = 0;

  get isOpen(): boolean {
    return this.opened;
  }

  open(): void {
    this.opened = true;
    this.release();
  }

  async wait(): Promise<void> {
    if (this.opened) return;
    this.waiting += 1;
    try {
      await this.gate;
    } finally {
      this.waiting -= 1;
    }
  }
}
