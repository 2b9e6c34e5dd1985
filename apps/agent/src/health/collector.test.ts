import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricsSchema, parsePayload } from '@facefleet/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { jetsonFixtures } from '../test-support/fixtures.js';
import { waitFor } from '../test-support/wait.js';
import { createHealthCollector, detectTrtVersion, identifyDevice } from './collector.js';

const log = pino({ level: 'silent' });

/** A stand-in executable that prints a recorded real file (and, for tegrastats, repeats it). */
function standIn(dir: string, name: string, fixtureFile: string, repeat: boolean): string {
  const path = join(dir, name);
  const body = repeat
    ? `#!/bin/sh\nwhile true; do cat '${join(jetsonFixtures, fixtureFile)}'; sleep 0.05; done\n`
    : `#!/bin/sh\ncat '${join(jetsonFixtures, fixtureFile)}'\n`;
  writeFileSync(path, body);
  chmodSync(path, 0o755);
  return path;
}

describe('device health', () => {
  it('a Jetson (recorded AGX Orin tegrastats, nvpmodel, device tree, nv_tegra_release)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-health-'));
    const model = join(dir, 'model');
    writeFileSync(model, 'NVIDIA Jetson AGX Orin Developer Kit\0');
    const paths = {
      deviceTreeModel: model,
      nvTegraRelease: join(jetsonFixtures, 'nv_tegra_release-r35.4.1-agx.txt'),
      procRoot: '/proc',
      sysRoot: '/sys',
    };
    const identity = identifyDevice(paths, 'arm64');
    expect(identity).toEqual({
      deviceClass: 'jetson-agx-orin',
      model: 'NVIDIA Jetson AGX Orin Developer Kit',
      l4t: 'R35.4.1',
      jetpack: '5.1.2',
      isJetson: true,
    });
    const c = createHealthCollector({
      identity,
      paths,
      tegrastatsBin: standIn(dir, 'tegrastats', 'tegrastats-agx-orin-jp6.txt', true),
      nvpmodelBin: standIn(dir, 'nvpmodel', 'nvpmodel-q.txt', false),
      log,
    });
    c.start();
    await waitFor(
      () => c.sample().powerMw.VDD_GPU_SOC !== undefined && c.sample().powerMode !== null,
      {
        what: 'a tegrastats line and nvpmodel',
      },
    );
    const h = c.sample();
    await c.stop();
    expect(h).toMatchObject({
      deviceClass: 'jetson-agx-orin',
      powerMode: 'MAXN',
      ramMb: { used: 4321, total: 62801 },
      gpuPct: 0,
      gpuFreqMhz: 0,
      emcPct: 0,
      powerMw: { VDD_GPU_SOC: 2340, VIN_SYS_5V0: 4025 },
    });
    expect(h.cpuPct).toHaveLength(12);
    expect(h.tempsC.tj).toBe(44.343);
    // what the agent publishes is a valid metrics.device
    parsePayload(
      metricsSchema,
      {
        v: 1,
        deviceId: 'orin-1',
        seq: 0,
        ts: Date.now(),
        intervalS: 10,
        runner: null,
        device: h,
        outbox: { pending: 0, dropped: 0 },
      },
      'metrics',
    );
  });

  it('a generic Linux box: class by arch, CPU/RAM from /proc, temperatures from a sysfs tree', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-health-'));
    const zone = join(dir, 'sys/class/thermal/thermal_zone0');
    mkdirSync(zone, { recursive: true });
    writeFileSync(join(zone, 'type'), 'x86_pkg_temp\n');
    writeFileSync(join(zone, 'temp'), '51000\n');
    const paths = {
      deviceTreeModel: join(dir, 'no-such-model'),
      nvTegraRelease: join(dir, 'no-such-release'),
      procRoot: '/proc',
      sysRoot: join(dir, 'sys'),
    };
    const identity = identifyDevice(paths, 'x64');
    expect(identity).toEqual({
      deviceClass: 'generic-x86_64',
      model: null,
      l4t: null,
      jetpack: null,
      isJetson: false,
    });
    expect(identifyDevice(paths, 'arm64').deviceClass).toBe('generic-arm64');
    expect(identifyDevice(paths, 'x64', 'jetson-nano').deviceClass).toBe('jetson-nano');
    const c = createHealthCollector({
      identity,
      paths,
      tegrastatsBin: 'tegrastats',
      nvpmodelBin: 'nvpmodel',
      log,
    });
    c.start();
    // burn a little CPU so the second /proc/stat sample differs
    const until = Date.now() + 50;
    while (Date.now() < until) Math.sqrt(Math.random());
    const h = c.sample();
    expect(h.cpuPct.length).toBeGreaterThanOrEqual(1);
    expect(h.ramMb.total).toBeGreaterThan(100);
    expect(h.ramMb.used).toBeLessThanOrEqual(h.ramMb.total);
    expect(h.tempsC).toEqual({ x86_pkg_temp: 51 });
    expect(h.gpuPct).toBeNull();
  });

  it('TensorRT version from NvInferVersion.h', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-trt-'));
    const h = join(dir, 'NvInferVersion.h');
    writeFileSync(
      h,
      '#define NV_TENSORRT_MAJOR 8 //!< major\n#define NV_TENSORRT_MINOR 5\n#define NV_TENSORRT_PATCH 2\n',
    );
    expect(detectTrtVersion([join(dir, 'missing.h'), h])).toBe('8.5.2');
    expect(detectTrtVersion([join(dir, 'missing.h')])).toBeNull();
  });
});
