/**
 * The file operations the sidecar runs at start, on a reload and when it connects an MCP backend
 * (the config, key and secret files, the socket's path) and that airlock-tools' stdio host runs
 * on its socket, as promises over `node:fs`'s callback API: the same asynchronous reads in
 * libuv's thread pool. `node:fs/promises` would load Node's promise API of the file system, and
 * with it readline and the REPL's history (for `FileHandle.readLines`), `opendir` and the
 * watchers, whose source and code cache then stay resident in every sidecar (bench/README.md,
 * "Round 6: the last builtins").
 */
import { chmod, chown, lstat, mkdir, readFile, realpath, rm, unlink } from 'node:fs';
import { promisify } from 'node:util';

/** A file's bytes. */
export const readBytes: (path: string) => Promise<Buffer> = promisify(readFile);

/** A file's text as UTF-8. */
export const readText = (path: string): Promise<string> => readBytes(path).then((bytes) => bytes.toString('utf8'));

/** `node:fs`'s chmod, chown, lstat, mkdir, realpath, rm and unlink as promises (what `node:fs/promises` has). */
export const chmodAsync = promisify(chmod);
export const chownAsync = promisify(chown);
export const lstatAsync = promisify(lstat);
export const mkdirAsync = promisify(mkdir);
export const realpathAsync = promisify(realpath);
export const rmAsync = promisify(rm);
export const unlinkAsync = promisify(unlink);
