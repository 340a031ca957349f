/**
 * The injected pod and the rendered sidecar config must agree on where files live and which
 * port the probes hit; a mismatch would only show up as pods that never become ready.
 */
import { describe, expect, it } from 'vitest';
import * as rendered from '../render/sidecar-config.js';
import { ADMIN_PORT, CONFIG_DIR, CREDENTIALS_DIR } from './settings.js';

describe('pod spec and sidecar config contract', () => {
  it('mounts the config and credentials where the rendered config expects them', () => {
    expect(rendered.CONFIG_DIR).toBe(CONFIG_DIR);
    expect(rendered.CREDENTIALS_DIR).toBe(CREDENTIALS_DIR);
  });

  it('probes the admin port the rendered config listens on', () => {
    expect(rendered.SIDECAR_ADMIN_PORT).toBe(ADMIN_PORT);
  });
});
