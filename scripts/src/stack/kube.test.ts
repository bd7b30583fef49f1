import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubePrerequisiteError } from '@fleetforge/emulators';
import { requireKube } from './kube';

describe('requireKube', () => {
  it('tells to run npm run kube:up when no Kubernetes tier runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-nokube-'));
    expect(() => requireKube(dir)).toThrow(KubePrerequisiteError);
    expect(() => requireKube(dir)).toThrow(/npm run kube:up/);
  });
});
