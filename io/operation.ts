// What every long operation (a blob upload; the services' build, export, import) accepts, so the
// CLI can draw a progress bar and the app can run it as a job with progress and cancel. The operation checks the signal
// between steps and leaves nothing half-done behind when it stops.
export interface OperationControl {
  signal?: AbortSignal;
  /**
   * units are the operation's own (bytes, or steps); `total` may grow as work is discovered; `stage`
   * names the step when an operation has several (verifying, then applying to each device)
   */
  onProgress?: (done: number, total: number, stage?: string) => void;
}

export class CancelledError extends Error {
  override name = 'CancelledError';
}

export function checkCancelled(ctl: OperationControl | undefined, what: string): void {
  if (ctl?.signal?.aborted) throw new CancelledError(`${what} cancelled`);
}
