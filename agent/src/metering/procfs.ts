import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux for x86 and arm64). */
const USER_HZ = 100;
const PAGE_BYTES = 4096;

/** What one real process has consumed so far: cumulative CPU and current resident memory. */
export interface ProcessReading {
  cpuMillisTotal: number;
  rssBytes: number;
}

/**
 * Reads a process's CPU time (utime + stime) and resident set from /proc. Linux
 * only; undefined when the process is gone or /proc is not there, and the meter
 * then reports a gap instead of guessing.
 */
export function readProc(pid: number, root = '/proc'): ProcessReading | undefined {
  try {
    const stat = readFileSync(`${root}/${pid}/stat`, 'utf8');
    // comm (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    const statm = readFileSync(`${root}/${pid}/statm`, 'utf8').split(' ');
    const resident = Number(statm[1]);
    if (![utime, stime, resident].every(Number.isFinite)) return undefined;
    return { cpuMillisTotal: ((utime + stime) * 1000) / USER_HZ, rssBytes: resident * PAGE_BYTES };
  } catch {
    return undefined;
  }
}
