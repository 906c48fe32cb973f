// A sleep that a wake() ends early, for loops that poll on a timer but should react at once
// when work arrives. A wake() with nobody waiting is remembered and ends the next wait().
export interface Waker {
  wake(): void;
  wait(ms: number): Promise<void>;
  /** Forget a remembered wake (the loop is about to look for work anyway). */
  clear(): void;
}

export function createWaker(): Waker {
  let woken = false;
  let wakeFn: (() => void) | undefined;
  return {
    wake() {
      if (wakeFn) wakeFn();
      else woken = true;
    },
    wait(ms) {
      if (woken) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          wakeFn = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        timer.unref();
        wakeFn = done;
      });
    },
    clear() {
      woken = false;
    },
  };
}
