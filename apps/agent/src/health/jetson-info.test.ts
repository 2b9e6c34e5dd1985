import { describe, expect, it } from 'vitest';
import { ParseError } from '../errors.js';
import { fixture } from '../test-support/fixtures.js';
import {
  deviceClassFromModel,
  genericDeviceClass,
  parseDeviceTreeModel,
  parseNvpmodel,
  parseNvTegraRelease,
} from './jetson-info.js';

describe('nvpmodel -q', () => {
  it('reads the recorded output: mode name then id', () => {
    expect(parseNvpmodel(fixture('nvpmodel-q.txt'))).toEqual({ name: 'MAXN', id: 0 });
  });
  it('a mode name without id line', () => {
    expect(parseNvpmodel('NV Power Mode: MODE_15W_6CORE\n')).toEqual({
      name: 'MODE_15W_6CORE',
      id: null,
    });
  });
  it('rejects other output', () => {
    expect(() => parseNvpmodel('nvpmodel: command not found')).toThrow(ParseError);
  });
});

describe('/proc/device-tree/model', () => {
  it('strips the trailing NUL and maps the recorded models to device classes', () => {
    const models = fixture('device-tree-model.txt').trim().split('\n');
    const classes = models.map((m) =>
      deviceClassFromModel(parseDeviceTreeModel(Buffer.from(`${m}\0`))),
    );
    expect(classes).toEqual(['jetson-nano', 'jetson-xavier-nx', 'jetson-agx-xavier']);
    expect(parseDeviceTreeModel(Buffer.from('NVIDIA Jetson Nano Developer Kit\0'))).toBe(
      'NVIDIA Jetson Nano Developer Kit',
    );
  });
  it('distinguishes the Orin family, TX2 and AGX Xavier', () => {
    expect(deviceClassFromModel('NVIDIA Jetson AGX Orin Developer Kit')).toBe('jetson-agx-orin');
    expect(deviceClassFromModel('NVIDIA Orin Nano Developer Kit')).toBe('jetson-orin-nano');
    expect(deviceClassFromModel('NVIDIA Jetson Orin NX Engineering Reference Developer Kit')).toBe(
      'jetson-orin-nx',
    );
    expect(deviceClassFromModel('NVIDIA Jetson AGX Xavier Developer Kit')).toBe(
      'jetson-agx-xavier',
    );
    expect(deviceClassFromModel('quill')).toBeUndefined();
    expect(deviceClassFromModel('NVIDIA Jetson TX2')).toBe('jetson-tx2');
    expect(deviceClassFromModel('Raspberry Pi 4 Model B Rev 1.4')).toBeUndefined();
  });
  it('falls back to a generic class by CPU architecture', () => {
    expect(genericDeviceClass('x64')).toBe('generic-x86_64');
    expect(genericDeviceClass('arm64')).toBe('generic-arm64');
  });
});

describe('/etc/nv_tegra_release', () => {
  it('maps L4T R32.7.1 (Nano) to JetPack 4.6.1', () => {
    expect(parseNvTegraRelease(fixture('nv_tegra_release-r32.7.1-nano.txt'))).toEqual({
      l4t: 'R32.7.1',
      jetpack: '4.6.1',
    });
  });
  it('maps L4T R35.4.1 (AGX) to JetPack 5.1.2', () => {
    expect(parseNvTegraRelease(fixture('nv_tegra_release-r35.4.1-agx.txt'))).toEqual({
      l4t: 'R35.4.1',
      jetpack: '5.1.2',
    });
  });
  it('a two-part revision (R32.1) is patch 0; an unknown release has no JetPack', () => {
    expect(parseNvTegraRelease('# R32 (release), REVISION: 1, GCID: 1').jetpack).toBe('4.2');
    expect(parseNvTegraRelease('# R99 (release), REVISION: 1.0, GCID: 1')).toEqual({
      l4t: 'R99.1.0',
      jetpack: null,
    });
  });
  it('rejects a file without the header', () => {
    expect(() => parseNvTegraRelease('')).toThrow(/REVISION/);
  });
});
