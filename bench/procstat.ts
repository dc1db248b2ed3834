/** CPU time and resident memory of a process, read from /proc (Linux). */
import * as fs from 'node:fs';

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux/x86_64 and arm64

/** utime + stime of `pid` (all its threads) in seconds, or NaN when unreadable. */
export function cpuSeconds(pid: number | 'self'): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces: fields after the last ')' are fixed
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** VmRSS of `pid` in KiB, or NaN when unreadable. */
export function rssKiB(pid: number | 'self'): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export interface CpuSnapshot {
  t: number; // seconds (monotonic)
  broker: number;
  gen: number;
}

export function snapshot(brokerPid: number): CpuSnapshot {
  return { t: Number(process.hrtime.bigint()) / 1e9, broker: cpuSeconds(brokerPid), gen: cpuSeconds('self') };
}

/** CPU used between two snapshots, as a share of one core (1 = 100 %). */
export function cpuShare(a: CpuSnapshot, b: CpuSnapshot): { broker: number; gen: number; seconds: number } {
  const seconds = b.t - a.t;
  return { broker: (b.broker - a.broker) / seconds, gen: (b.gen - a.gen) / seconds, seconds };
}
