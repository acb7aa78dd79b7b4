import { afterEach, describe, expect, it, vi } from 'vitest';
import { ScrollSpeed } from '../../src-renderer/lib/scroll-speed.svelte.ts';

afterEach(() => vi.useRealTimers());

describe('ScrollSpeed', () => {
  it('stays settled while scrolling below the threshold, even with uneven event spacing', () => {
    const speed = new ScrollSpeed(3000, 120);
    // 2,400 px/s, with events alternately 4 ms and 29 ms apart (one pair would read 10,000 px/s).
    let time = 0;
    let top = 0;
    for (let i = 0; i < 60; i++) {
      const step = i % 2 === 0 ? 4 : 29;
      time += step;
      top += step * 2.4;
      speed.onScroll(top, time);
      expect(speed.settled).toBe(true);
    }
  });

  it('flies above the threshold and settles after the scroll calms', () => {
    vi.useFakeTimers();
    const speed = new ScrollSpeed(3000, 120);
    for (let frame = 0; frame <= 6; frame++) speed.onScroll(frame * 240, frame * 16.7);
    expect(speed.settled).toBe(false);
    vi.advanceTimersByTime(119);
    expect(speed.settled).toBe(false);
    vi.advanceTimersByTime(2);
    expect(speed.settled).toBe(true);
  });

  it('treats a jump of more than a screenful as flying at once', () => {
    vi.useFakeTimers();
    const speed = new ScrollSpeed();
    speed.onScroll(0, 0);
    speed.onScroll(50_000, 5);
    expect(speed.settled).toBe(false);
  });
});
