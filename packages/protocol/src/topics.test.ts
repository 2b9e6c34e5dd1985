import { describe, expect, it } from 'vitest';
import { TopicError } from './errors.js';
import {
  assertTopicFilter,
  filterCovers,
  filters,
  formatTopic,
  parseTopic,
  topicMatches,
  topics,
} from './topics.js';

describe('topic builders and parser', () => {
  it('parses the example from the design', () => {
    expect(parseTopic('facefleet/v1/devices/cam-7/faces')).toEqual({
      kind: 'faces',
      deviceId: 'cam-7',
    });
  });

  it.each(['status', 'faces', 'metrics', 'desired', 'reported'] as const)(
    'round-trips %s',
    (kind) => {
      const topic = topics[kind]('jetson_nano.03');
      expect(topic).toBe(`facefleet/v1/devices/jetson_nano.03/${kind}`);
      const parsed = parseTopic(topic);
      expect(parsed).toEqual({ kind, deviceId: 'jetson_nano.03' });
      expect(formatTopic(parsed)).toBe(topic);
    },
  );

  it('round-trips alert topics', () => {
    const topic = topics.alert('lobby-crowd', 'cam-7');
    expect(topic).toBe('facefleet/v1/alerts/lobby-crowd/cam-7');
    expect(parseTopic(topic)).toEqual({ kind: 'alert', ruleId: 'lobby-crowd', deviceId: 'cam-7' });
  });

  it('puts a camera alert one level below its device, and camera "0" on the device topic', () => {
    expect(topics.alert('cam-down', 'cam-7', 'yard')).toBe(
      'facefleet/v1/alerts/cam-down/cam-7/yard',
    );
    expect(topics.alert('cam-down', 'cam-7', '0')).toBe('facefleet/v1/alerts/cam-down/cam-7');
    const parsed = parseTopic('facefleet/v1/alerts/cam-down/cam-7/yard');
    expect(parsed).toEqual({
      kind: 'alert',
      ruleId: 'cam-down',
      deviceId: 'cam-7',
      camera: 'yard',
    });
    expect(formatTopic(parsed)).toBe('facefleet/v1/alerts/cam-down/cam-7/yard');
    expect(() => parseTopic('facefleet/v1/alerts/cam-down/cam-7/0')).toThrow(/device's topic/);
    expect(() => topics.alert('r', 'cam-7', 'a b')).toThrow(TopicError);
    // one filter still takes every alert, and a rule's filter every camera's
    const t = topics.alert('cam-down', 'cam-7', 'yard');
    expect(topicMatches(filters.allAlerts, t)).toBe(true);
    expect(topicMatches(filters.ruleAlerts('cam-down'), t)).toBe(true);
    expect(topicMatches(filters.ruleAlerts('cam-down'), topics.alert('cam-down', 'cam-7'))).toBe(
      true,
    );
  });

  it.each([
    ['facefleet/v1/alerts/r/cam-7/yard/x', /too many levels/],
    ['facefleet/v1/devices/+/faces', /wildcards/],
    ['facefleet/v1/devices/#', /wildcards/],
    ['$SYS/broker/clients', /\$-topics/],
    ['facefleet/v2/devices/cam-7/faces', /not below/],
    ['facefleet/v1/devices/cam-7/faces/extra', /too many levels/],
    ['facefleet/v1/devices/cam-7/logs', /unknown device topic kind/],
    ['facefleet/v1/devices/-cam/faces', /device id/],
    ['facefleet/v1/devices//faces', /device id/],
    [`facefleet/v1/devices/${'a'.repeat(65)}/faces`, /device id/],
    ['facefleet/v1/devices/cam 7/faces', /device id/],
    ['facefleet/v1/alerts/rule-1', /not a facefleet topic/],
    ['facefleet/v1/alerts/rule$/cam-7', /rule id/],
    ['facefleet/v1/devices/cam\u00007/faces', /NUL/],
    ['', /empty/],
  ])('rejects %j', (topic, reason) => {
    expect(() => parseTopic(topic)).toThrow(TopicError);
    expect(() => parseTopic(topic)).toThrow(reason);
  });

  it.each(['+', '#', 'a/b', '$x', '', 'x'.repeat(65), 'é'])(
    'builders refuse the device id %j',
    (id) => {
      expect(() => topics.faces(id)).toThrow(TopicError);
      expect(() => topics.alert('r', id)).toThrow(TopicError);
    },
  );

  it('builds subscriber filters', () => {
    expect(filters.allFaces).toBe('facefleet/v1/devices/+/faces');
    expect(filters.ruleAlerts('r1')).toBe('facefleet/v1/alerts/r1/#');
    expect(() => filters.ruleAlerts('#')).toThrow(TopicError);
  });
});

describe('filters', () => {
  it.each(['a/#', 'a/+/b', '#', '+', 'a/+'])('accepts valid filter %j', (f) => {
    expect(() => assertTopicFilter(f)).not.toThrow();
  });
  it.each(['a/#/b', 'a/b#', 'a/+b', '', 'a\u0000'])('rejects invalid filter %j', (f) => {
    expect(() => assertTopicFilter(f)).toThrow(TopicError);
  });

  it('matches by MQTT rules', () => {
    expect(topicMatches('facefleet/v1/devices/+/faces', 'facefleet/v1/devices/cam-7/faces')).toBe(
      true,
    );
    expect(topicMatches('facefleet/v1/devices/+/faces', 'facefleet/v1/devices/cam-7/metrics')).toBe(
      false,
    );
    expect(topicMatches('facefleet/v1/#', 'facefleet/v1/alerts/r/d')).toBe(true);
    expect(topicMatches('facefleet/v1/#', 'facefleet/v1')).toBe(true);
    expect(topicMatches('#', '$SYS/x')).toBe(false);
    expect(topicMatches('a/b', 'a/b/c')).toBe(false);
  });

  it('decides whether one filter covers another', () => {
    expect(filterCovers('facefleet/v1/alerts/#', 'facefleet/v1/alerts/r1/+')).toBe(true);
    expect(filterCovers('facefleet/v1/alerts/#', 'facefleet/v1/alerts')).toBe(true);
    expect(filterCovers('facefleet/v1/devices/+/faces', 'facefleet/v1/devices/cam-7/faces')).toBe(
      true,
    );
    expect(filterCovers('facefleet/v1/devices/+/faces', 'facefleet/v1/devices/+/+')).toBe(false);
    expect(filterCovers('facefleet/v1/devices/+/faces', 'facefleet/v1/devices/#')).toBe(false);
    expect(
      filterCovers('facefleet/v1/devices/cam-7/desired', 'facefleet/v1/devices/+/desired'),
    ).toBe(false);
    expect(
      filterCovers('facefleet/v1/devices/cam-7/desired', 'facefleet/v1/devices/cam-7/desired/x'),
    ).toBe(false);
  });
});
