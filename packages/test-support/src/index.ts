export {
  type Agent,
  type AgentLog,
  type AgentOptions,
  hostDeviceClass,
  startAgent,
} from './agent.js';
export {
  type ApiCallOptions,
  type ControlPlane,
  type ControlPlaneOptions,
  startControlPlane,
} from './control-plane.js';
export { GOLDEN_IMAGES, writeDegradedBlazeface, writeGoldenSet } from './golden-set.js';
export { type MetricSample, type Metrics, parseMetrics } from './metrics.js';
export {
  type Mosquitto,
  type MosquittoOptions,
  type MosquittoSub,
  type MosquittoSubOptions,
  type MqttMessage,
  mosquittoSub,
  startMosquitto,
} from './mosquitto.js';
export {
  connectWire,
  encodeConnect,
  encodeLength,
  encodePublish,
  type WireClient,
  type WireClientOptions,
  type WireMessage,
} from './mqtt-wire.js';
export {
  agentMain,
  blazefaceModel,
  cliMain,
  controlPlaneMain,
  facenetShapedModel,
  megamind,
  messi,
  modelsDir,
  mosquittoBin,
  mosquittoPasswdBin,
  mosquittoSubBin,
  python3Bin,
  repoRoot,
  requireBuilt,
  rtspServerScript,
  runnerBin,
  sampleData,
  stdbufBin,
  vtest,
} from './paths.js';
export {
  createPostgresDatabase,
  freshStoreLocation,
  POSTGRES_MISSING,
  type Postgres,
  postgresBinDir,
  startPostgres,
} from './postgres.js';
export {
  type ExitStatus,
  type ProcessOptions,
  type RunningProcess,
  startProcess,
  type WaitForLineOptions,
} from './process.js';
export { type RtspServer, type RtspServerOptions, startRtspServer } from './rtsp.js';
export {
  type CertificateAuthority,
  certificateFingerprint,
  createTestPki,
  type IssuedCertificate,
  type IssueOptions,
  opensslBin,
  type TestPki,
} from './tls.js';
export { fetchTrusting } from './tls-fetch.js';
export { canConnect, freePort, type Truthy, type WaitOptions, waitFor } from './wait.js';
