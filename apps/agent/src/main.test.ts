import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_BUNDLE, startAgent } from './test-support/agent-process.js';
import { createBroker } from './test-support/mosquitto.js';
import { blazefaceModel, runnerBin, SAMPLE_VIDEO } from './test-support/runner.js';
import { waitFor } from './test-support/wait.js';

/** The shipped bundle run as a program, as the `facefleet-agent` bin is: its first line runs node. */
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(AGENT_BUNDLE, args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });

describe('facefleet-agent (the built bundle)', () => {
  it('a bad configuration exits 2 and names every wrong field', () => {
    const r = run(['--broker-url', 'ftp://x', '--publish-faces-window-s', '-1'], {
      FACEFLEET_DEVICE_ID: 'cam 7',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('invalid configuration');
    for (const field of [
      'deviceId:',
      'deviceToken: required',
      'brokerUrl:',
      'publish.facesWindowS:',
      'runner.bin: required',
    ]) {
      expect(r.stderr).toContain(field);
    }
  });

  it('--help lists the settings and exits 0', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--fleet-public-key <string>\s+FACEFLEET_FLEET_PUBLIC_KEY/);
  });

  it('says in its log when it was started without the Node flags of its first line; names its device once a line', async () => {
    const broker = await createBroker();
    const start = (nodeArgs?: string) =>
      startAgent({
        deviceId: 'flags-1',
        token: 't',
        brokerUrl: broker.url,
        controlPlaneUrl: 'http://127.0.0.1:9',
        dataDir: mkdtempSync(join(tmpdir(), 'ff-flags-')),
        publicKey: generateKeyPairSync('ed25519').publicKey,
        runnerBin: runnerBin(),
        model: blazefaceModel(),
        source: SAMPLE_VIDEO,
        ...(nodeArgs === undefined ? {} : { nodeArgs }),
      });
    try {
      const warning =
        'started without the Node flags the agent is tuned for: expect more memory use';
      for (const [nodeArgs, warns] of [
        [undefined, false],
        ['--max-semi-space-size=1', true],
      ] as const) {
        const agent = start(nodeArgs);
        // after its start: the SIGTERM handler is installed by then
        await waitFor(() => agent.has('runner started'), {
          timeoutMs: 20_000,
          what: 'agent start',
        });
        expect(agent.has(warning), `node flags ${nodeArgs ?? '(the bundle’s)'}`).toBe(warns);
        // the agent runs on the Node running the tests (Node 16.20.2 in scripts/node16/run.mjs)
        expect(agent.logs.find((l) => l.msg === 'agent starting')?.node).toBe(process.version);
        // pino's base carries deviceId: a line that adds it again has the key twice
        expect(agent.rawLogs.length).toBeGreaterThan(0);
        for (const line of agent.rawLogs) {
          expect(line.match(/"deviceId":/g), line).toHaveLength(1);
        }
        if (warns) {
          const line = agent.logs.find((l) => l.msg === warning);
          expect(line?.missing).toContain('--single-threaded');
        }
        const exit = await agent.stop();
        expect(exit, agent.stderr.join('\n')).toEqual({ code: 0, signal: null });
      }
    } finally {
      await broker.stop();
    }
  });
});
