/**
 * Process CPU and memory from /proc (Linux), pidusage-style: CPU time is utime + stime of
 * /proc/<pid>/stat in clock ticks (USER_HZ, 100 on Linux x86/arm), RSS is VmRSS of
 * /proc/<pid>/status. A sampler reads them on an interval; `window(from, to)` gives the mean CPU
 * (% of one core) and the max RSS between two times. Elsewhere than Linux every figure is null.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: what /proc/<pid>/stat counts CPU time in. */
const TICKS_PER_SECOND = 100;

export interface ProcReading { at: number; cpuSeconds: number; rssBytes: number }

/** One reading of `pid`, or undefined (no /proc, or the process is gone). */
export function readProc(pid: number): ProcReading | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and parentheses: fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return { at: performance.now(), cpuSeconds: (utime + stime) / TICKS_PER_SECOND, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
  } catch {
    return undefined;
  }
}

/** CPU seconds used by every process whose command is `comm` (e.g. all PostgreSQL backends on this host). */
export function cpuSecondsOfCommand(comm: string): number | undefined {
  try {
    let total = 0;
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (name !== comm) continue;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        total += (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
      } catch { /* the process ended meanwhile */ }
    }
    return total;
  } catch {
    return undefined;
  }
}

export interface WindowFigures { cpuPercent: number | null; rssMaxBytes: number | null; rssEndBytes: number | null }

/** Samples one process every `everyMs`. */
export class ProcSampler {
  readonly samples: ProcReading[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: number, private readonly everyMs = 500) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
    return this;
  }

  stop(): void { if (this.timer) clearInterval(this.timer); this.sample(); }

  sample(): ProcReading | undefined {
    const r = readProc(this.pid);
    if (r) this.samples.push(r);
    return r;
  }

  /** Mean CPU (% of one core) and RSS between two performance.now() times. */
  window(from: number, to: number): WindowFigures {
    const inside = this.samples.filter((s) => s.at >= from && s.at <= to);
    if (inside.length < 2) return { cpuPercent: null, rssMaxBytes: inside[0]?.rssBytes ?? null, rssEndBytes: inside[0]?.rssBytes ?? null };
    const a = inside[0]!, b = inside[inside.length - 1]!;
    return {
      cpuPercent: (100 * (b.cpuSeconds - a.cpuSeconds)) / ((b.at - a.at) / 1000),
      rssMaxBytes: Math.max(...inside.map((s) => s.rssBytes)),
      rssEndBytes: b.rssBytes,
    };
  }
}
