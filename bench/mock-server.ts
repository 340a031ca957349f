/** A provider mock in its own process for the benchmark: prints its URL, serves until killed. */
import { startMock, type MockKind } from '../test/mocks/index.js';

const kind = (process.argv[2] ?? 'openai') as MockKind;
const mock = await startMock(kind, { keys: process.argv.slice(3) });
// The benchmark reads this line; nothing else goes to stdout.
console.log(mock.url);
process.on('SIGTERM', () => void mock.close().then(() => process.exit(0)));
