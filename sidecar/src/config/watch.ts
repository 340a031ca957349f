/**
 * Watches files for changes the way Kubernetes volumes change them: ConfigMap and Secret
 * volumes swap a `..data` symlink atomically, so the files' own inodes never change. Watching
 * the parent directories sees the swap; a slow content poll is the safety net for filesystems
 * without inotify.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface FileWatcher {
  close(): void;
}

/** Calls `onChange` (debounced) whenever anything in the files' directories changes, and every pollMs. */
export function watchFiles(paths: readonly string[], onChange: () => void, options: { debounceMs?: number; pollMs?: number } = {}): FileWatcher {
  const debounceMs = options.debounceMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    try {
      watchers.push(watch(dir, { persistent: false }, fire).on('error', () => undefined));
    } catch {
      // A directory that does not exist yet is covered by the poll.
    }
  }
  const poll = setInterval(onChange, options.pollMs ?? 30_000).unref();
  return {
    close() {
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
