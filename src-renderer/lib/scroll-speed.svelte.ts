/**
 * Whether a scroller is flying: faster than `fastPxPerSecond`, until it has been calmer for
 * `settleMs`. The grid shows placeholders for rows that appear while flying: each thumbnail costs
 * the renderer about 0.3 ms of main-thread work to request and decode, and a fling brings in a
 * hundred new ones a frame.
 */
export class ScrollSpeed {
  settled = $state(true);
  /** Recent (time, scrollTop) samples: speed over a window, not between two events, so jitter does not flap. */
  private samples: Array<[number, number]> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly fastPxPerSecond = 3000,
    private readonly settleMs = 120,
  ) {}

  onScroll(top: number, now = performance.now()): void {
    this.samples.push([now, top]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > 150) this.samples.shift();
    const [since, from] = this.samples[0]!;
    const elapsed = now - since;
    const jump = Math.abs(top - from);
    // A jump of more than a screenful counts at once (End, a scrollbar drag); otherwise judge over 50 ms or more.
    const speed = elapsed >= 50 ? (jump / elapsed) * 1000 : jump > 2000 ? Infinity : 0;
    if (speed <= this.fastPxPerSecond) return;
    this.settled = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => (this.settled = true), this.settleMs);
  }
}
