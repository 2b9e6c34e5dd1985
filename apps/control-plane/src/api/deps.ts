import type { Store } from '@facefleet/store';
import type { Logger } from 'pino';
import type { ApiTokens } from '../auth/api-tokens.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import type { Secrets } from '../auth/secrets.js';
import type { Sessions } from '../auth/sessions.js';
import type { Broker } from '../broker/types.js';
import type { BlobStore } from '../engines/blob-store.js';
import type { FleetKey } from '../engines/fleet-key.js';
import type { Ingest } from '../ingest/ingest.js';
import type { LiveHub } from '../live/hub.js';
import type { RolloutExecutor } from '../rollouts/executor.js';
import type { AlertRuleService } from '../services/alert-rules.js';
import type { CertificateService } from '../services/certificates.js';
import type { DeviceService } from '../services/devices.js';
import type { EngineService } from '../services/engines.js';
import type { SubscriberService } from '../services/subscribers.js';
import type { Telemetry } from '../telemetry.js';
import type { DashboardAssets } from './dashboard.js';

/**
 * Everything the HTTP API is built from. `createApp` takes all of it; each route module's factory
 * takes only the part it uses (`Pick<AppDeps, …>`). A module of its own, so that the app and its
 * route modules both import it and neither imports the other.
 */
export interface AppDeps {
  /** Reads: the routes query the store's repositories; every change goes through a service. */
  store: Store;
  broker: Broker;
  /** Engine files, by sha256. */
  blobs: BlobStore;
  fleetKey: FleetKey;
  tokens: ApiTokens;
  /** Device tokens are checked with it (engine downloads authenticate with Basic). */
  secrets: Secrets;
  /** Failed logins per client address (shared with the embedded broker). */
  throttle: LoginThrottle;
  devices: DeviceService;
  engines: EngineService;
  subscribers: SubscriberService;
  alertRules: AlertRuleService;
  /** Device certificates (TLS logins): enrolled and revoked through the API. */
  certificates: CertificateService;
  rollouts: RolloutExecutor;
  /** Device messages forwarded over HTTP (routes/ingest.ts) go through the same ingest. */
  ingest: Ingest;
  /** HTTP ingest: the shared signing secret and the enrolment check; null when it is off. */
  httpIngest: { secret: string; isEnrolled(deviceId: string): Promise<boolean> } | null;
  telemetry: Telemetry;
  log: Logger;
  maxEngineBytes: number;
  /** Largest request body read, except engine uploads (`maxEngineBytes`, streamed). */
  maxBodyBytes: number;
  /** Dashboard sign-in sessions (cookie). */
  sessions: Sessions;
  /** The live (SSE) connections. */
  hub: LiveHub;
  /** An event stream's credentials are checked again before it sends, once this many ms old. */
  liveRecheckMs: number;
  /** The dashboard's built files, served at `/`. */
  dashboard: DashboardAssets;
  /** Extra health facts for /healthz (ingest queue, broker mode). */
  health?: () => Record<string, unknown>;
}
