import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { RESERVED_PREFIX } from '../storage-path.js';

/** Every temporary file of the filesystem backend starts with this. */
export const TEMPORARY_PREFIX = `${RESERVED_PREFIX}tmp-`;

/**
 * This machine, in 8 hex digits: its host name and its kernel's boot id, so
 * that a process id in a temporary file's name is only ever checked on the
 * machine (and the boot) that wrote it, even on a store shared over NFS.
 */
function thisMachine(): string {
  // Worked out on the first write, not when the module loads (start-up pays for nothing it may not use).
  machine ??= createHash('sha256').update(`${hostname()}\0${bootId()}`).digest('hex').slice(0, 8);
  return machine;
}
let machine: string | undefined;

/**
 * `.taskforge-tmp-MACHINE-PID-UNIQUE`: names the writer, so a sweep can tell
 * a live write from a dead one. UNIQUE is random per process and counted per
 * name (no random bytes drawn per write: small writes pay for every call);
 * the names are opened with O_EXCL anyway.
 */
export function temporaryName(): string {
  // Made once: process.pid is a system call each time it is read.
  namePrefix ??= `${TEMPORARY_PREFIX}${thisMachine()}-${String(process.pid)}-${randomBytes(4).toString('hex')}`;
  counter += 1;
  return `${namePrefix}${counter.toString(16)}`;
}
let namePrefix: string | undefined;
let counter = 0;

/** Whose a temporary file is, as far as this process can tell. */
export type TemporaryOwner = 'gone' | 'running' | 'unknown';

/**
 * `gone` when the file names a process of this machine and boot that no
 * longer exists (its write can never finish); `running` when that process
 * exists (a process id may be reused, which only keeps a leftover longer);
 * `unknown` for another machine's file or a name from before writers were
 * named, which only its age can settle.
 */
export function ownerOf(name: string): TemporaryOwner {
  const match = /^([0-9a-f]{8})-(\d+)-[0-9a-f]+$/.exec(name.slice(TEMPORARY_PREFIX.length));
  if (match?.[1] !== thisMachine()) return 'unknown';
  const pid = Number(match[2]);
  if (pid === process.pid) return 'running';
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'ESRCH' ? 'gone' : 'running';
  }
  return isZombie(pid) ? 'gone' : 'running';
}

/**
 * Whether `pid` has died and only waits for its parent to collect it (a
 * killed writer whose parent has not yet: it still answers a signal check,
 * but can write nothing more). Linux's /proc says so; elsewhere, not known.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    // "PID (COMMAND) STATE …": the command may hold spaces and parentheses, so the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return ''; // not Linux: the host name alone
  }
}
