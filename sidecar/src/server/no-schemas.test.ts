import fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { noSchemaCompilers } from './no-schemas.js';

describe('noSchemaCompilers', () => {
  it('serves routes without schemas as before (JSON replies and errors)', async () => {
    const app = fastify({ schemaController: noSchemaCompilers });
    app.get('/ok', async () => ({ ok: true }));
    app.get('/fail', async () => {
      throw Object.assign(new Error('nope'), { statusCode: 418 });
    });
    const ok = await app.inject({ url: '/ok' });
    expect(ok.json()).toEqual({ ok: true });
    const fail = await app.inject({ url: '/fail' });
    expect(fail.statusCode).toBe(418);
    expect(fail.json()).toMatchObject({ message: 'nope' });
    await app.close();
  });

  it('refuses a route that declares a JSON schema, saying to validate with zod, rather than leave it unvalidated', async () => {
    for (const schema of [{ body: { type: 'object', required: ['x'] } }, { response: { 200: { type: 'object' } } }]) {
      const app = fastify({ schemaController: noSchemaCompilers });
      app.post('/x', { schema }, async () => ({}));
      await expect(app.ready()).rejects.toThrow(/declare no JSON schema.*validate with zod/);
      await app.close().catch(() => undefined);
    }
  });
});
