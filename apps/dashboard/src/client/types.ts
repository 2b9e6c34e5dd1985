import type { LiveDevice, LiveEvent, LiveRollout } from '@facefleet/control-plane/live';
import type { Alert } from '@facefleet/protocol';
import type { InferResponseType } from 'hono/client';
import type { api } from './api.js';

/**
 * The API's answers as the dashboard reads them, taken from the routes' own types through the
 * typed client (types only: nothing of the server is bundled); none is restated here.
 */
export type { Alert, LiveDevice, LiveEvent, LiveRollout };

type Answer<E> = E extends (...args: never[]) => unknown ? InferResponseType<E, 200> : never;

export type Session = Answer<typeof api.session.$get>;
export type Principal = Session['principal'];
export type Role = Principal['role'];
export type Meta = Answer<typeof api.meta.$get>;

/** A row of `GET /api/v1/fleet/overview`, kept current by live events. */
export type FleetDevice = Answer<typeof api.fleet.overview.$get>['devices'][number];
export type LastFaces = NonNullable<FleetDevice['lastFaces']>;
export type LastMetrics = NonNullable<FleetDevice['lastMetrics']>;

export type Engine = Answer<typeof api.engines.$get>['engines'][number];
export type AlertRule = Answer<(typeof api)['alert-rules']['$get']>['rules'][number];
/** A stored alert (`GET /api/v1/alerts`). */
export type StoredAlert = Answer<typeof api.alerts.$get>['alerts'][number];

type DeviceRoutes = (typeof api.devices)[':id'];
export type FaceBucket = Answer<DeviceRoutes['faces']['$get']>['buckets'][number];
export type MetricBucket = Answer<DeviceRoutes['metrics']['$get']>['buckets'][number];
export type DeviceHistory = Answer<DeviceRoutes['history']['$get']>;
export type DeviceCameras = Answer<DeviceRoutes['cameras']['$get']>;
export type DeviceCamera = DeviceCameras['cameras'][number];
export type CameraBucket = Answer<
  DeviceRoutes['cameras'][':camera']['metrics']['$get']
>['buckets'][number];
