/** A provider mock in its own process for the benchmark: prints its URL, serves until killed. */
import { startMock, type MockKind } from '../test/mocks/index.js';

const kind = (process.argv[2] ?? 'openai') as MockKind;
const mock = await startMock(kind, { keys: process.argv.slice(3) });
// The mock records every request for the tests' assertions; the benchmark reads none of them.
// Kept, they grew the mock's heap to ~1.5 GiB over a full run, and its ever longer garbage
// collections landed in whichever target happened to be measured (bench/README.md, round 4).
setInterval(() => mock.reset(), 1_000).unref();
// The benchmark reads this line; nothing else goes to stdout.
console.log(mock.url);
process.on('SIGTERM', () => void mock.close().then(() => process.exit(0)));
