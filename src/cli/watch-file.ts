/**
 * Calls back when a file is saved. The directory is watched, not the file: editors save by
 * writing a temp file and renaming it over the old one, which ends a watch on the old inode.
 * Events are debounced because one save is several events (truncate, write, rename).
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

const DEBOUNCE_MS = 150;

export function watchFile(file: string, onSave: () => void): { close(): void } {
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(file), (_event, changed) => {
    if (changed !== null && changed.toString() !== name) return;
    clearTimeout(timer);
    timer = setTimeout(onSave, DEBOUNCE_MS);
  });
  watcher.unref();
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
