/**
 * The worker's memory between runs: which log files it has read (by name, so a file that
 * arrives late or out of order is still read once), the model it learned and whether its
 * warms paid (back-off). Written to a
 * temp file and renamed, so a crash mid-write leaves the previous state.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PayoffSnapshot } from './backoff.js';
import type { ModelSnapshot } from './model.js';

export interface WorkerState {
  version: 1;
  /** File name → hour it covers (ms), for files already read. */
  files: Record<string, number>;
  model?: ModelSnapshot | undefined;
  /** Outstanding warms, per-class back-off and wasted bytes in the window (src/prefetch/backoff.ts). */
  payoff?: PayoffSnapshot | undefined;
}

export function emptyState(): WorkerState {
  return { version: 1, files: {} };
}

/** Reads the state; a missing file is a fresh start, an unreadable one too (with the reason). */
export async function loadState(file: string): Promise<{ state: WorkerState; problem?: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState() };
    return { state: emptyState(), problem: `cannot read state file ${file}: ${(err as Error).message}` };
  }
  try {
    const s = JSON.parse(text) as Partial<WorkerState>;
    if (s.version !== 1 || typeof s.files !== 'object' || s.files === null) throw new Error('unknown layout');
    for (const v of Object.values(s.files)) if (typeof v !== 'number') throw new Error('bad file entry');
    return { state: { version: 1, files: s.files, model: s.model, payoff: s.payoff } };
  } catch (err) {
    return {
      state: emptyState(),
      problem: `state file ${file} is unusable (${(err as Error).message}); starting fresh`,
    };
  }
}

export async function saveState(file: string, state: WorkerState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state));
  await rename(tmp, file);
}

/** Forgets files for hours before `oldest` (they are also no longer read). */
export function pruneState(state: WorkerState, oldest: number): number {
  let n = 0;
  for (const [name, hour] of Object.entries(state.files)) {
    if (hour < oldest) {
      delete state.files[name];
      n++;
    }
  }
  return n;
}
