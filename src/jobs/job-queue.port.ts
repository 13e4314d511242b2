/** The job queue port: what the core needs from a durable job runner (Agenda behind it). */

export interface JobContext {
  /** Renews the job's lock (a lease): call it in long jobs. */
  touch(): Promise<void>;
  /** 0 on the first run, n on the n-th retry. */
  attempt: number;
}

export interface JobOptions {
  /** Retries after a failed run, with exponential backoff from `retryDelayMs`. */
  retries?: number;
  retryDelayMs?: number;
  concurrency?: number;
}

export interface EnqueueOptions {
  /** At most one pending job with these data values (values must be our own ids, never user input). */
  uniqueBy?: string[];
  delayMs?: number;
}

export interface JobQueue {
  define<T extends Record<string, unknown>>(name: string, handler: (data: T, ctx: JobContext) => Promise<void>, opts?: JobOptions): void;
  enqueue<T extends Record<string, unknown>>(name: string, data: T, opts?: EnqueueOptions): Promise<void>;
  /** Runs `name` every `interval` (e.g. "1 minute"), once across all instances. */
  every(interval: string, name: string): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): Promise<{ ok: boolean; running: boolean; queued?: number; error?: string }>;
}
