/** Writing a whole JSON answer: the one way every server of the product does it. */
import type { ServerResponse } from 'node:http';

/** Writes a JSON body (a Buffer is written as is); `headers` may replace the content type. */
export function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length, ...headers });
  res.end(payload);
}
