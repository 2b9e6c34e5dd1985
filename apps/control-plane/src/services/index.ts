import type { X509Certificate } from 'node:crypto';
import type { Store } from '@facefleet/store';
import type { Logger } from 'pino';
import type { WebhookPolicy } from '../alerts/webhook.js';
import type { Secrets } from '../auth/secrets.js';
import type { TokenHashCache } from '../auth/token-hashes.js';
import type { BrokerCredentials } from '../broker/credentials.js';
import type { Broker } from '../broker/types.js';
import type { Config } from '../config.js';
import type { BlobStore } from '../engines/blob-store.js';
import type { FleetKey } from '../engines/fleet-key.js';
import { createAlertRuleService } from './alert-rules.js';
import { createCertificateService } from './certificates.js';
import type { ChangeFeed } from './changes.js';
import { createDeviceService } from './devices.js';
import { createEngineService } from './engines.js';
import { createSubscriberService } from './subscribers.js';

export interface ServiceDeps {
  store: Store;
  secrets: Secrets;
  credentials: BrokerCredentials;
  broker: Broker;
  changes: ChangeFeed;
  blobs: BlobStore;
  fleetKey: FleetKey;
  maxEngineBytes: number;
  engineQuotaBytes: number;
  /** The fleet CA's certificates as they are now (device certificates); none by default. */
  fleetCa?: () => readonly X509Certificate[];
  /** Which webhook hosts alert rules may name. */
  webhooks: WebhookPolicy;
  /** The embedded broker's device token hashes in memory, told of every token change. */
  tokenHashes?: TokenHashCache | undefined;
  log: Logger;
}

/** What the services take from the configuration (the server and the serverless entry alike). */
export function serviceSettings(config: Config) {
  return {
    maxEngineBytes: config.engines.maxBytes,
    engineQuotaBytes: config.engines.quotaBytes,
    webhooks: { allowHosts: config.alerts.webhookAllowHosts },
  };
}

/** The use cases the API calls (a long-running server and the serverless entry build the same). */
export function createServices(deps: ServiceDeps) {
  const { store, secrets, credentials, broker, changes, log } = deps;
  return {
    devices: createDeviceService({
      store,
      secrets,
      credentials,
      broker,
      changes,
      log,
      tokenHashes: deps.tokenHashes,
    }),
    engines: createEngineService({
      store,
      blobs: deps.blobs,
      fleetKey: deps.fleetKey,
      maxBytes: deps.maxEngineBytes,
      quotaBytes: deps.engineQuotaBytes,
      log,
    }),
    subscribers: createSubscriberService({ store, secrets, credentials, log }),
    alertRules: createAlertRuleService({ store, changes, webhooks: deps.webhooks }),
    certificates: createCertificateService({
      store,
      credentials,
      changes,
      fleetCa: deps.fleetCa ?? (() => []),
      log,
    }),
  };
}
export type Services = ReturnType<typeof createServices>;
