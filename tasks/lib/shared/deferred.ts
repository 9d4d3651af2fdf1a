// A promise with its resolve and reject at hand: how concurrent steps wait for one another.

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The failing task reports the error itself; waiters only learn that it failed.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
