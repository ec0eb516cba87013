/**
 * One queue for every change the coordinator makes: a task starts only when the one before it
 * has finished (whether it succeeded or failed), so a policy check and the drain it allows
 * cannot interleave with another request in this process. Across replicas the store's
 * conditioned commits do that job (store/store.ts).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every task queued before it; resolves or rejects with its outcome. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has finished. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
