export {
  type AclOptions,
  allowedFilters,
  DEFAULT_ACL_OPTIONS,
  mayPublish,
  maySubscribe,
  type Principal,
} from './acl.js';
export { ALERT_KINDS, type Alert, type AlertKind, alertSchema, SEVERITIES } from './alert.js';
export {
  type Box,
  boxesSchema,
  boxSchema,
  countSchema,
  type Latency,
  latencySchema,
  sha256Schema,
  timestampSchema,
} from './common.js';
export {
  controlPlanePathSchema,
  type Desired,
  desiredSchema,
  ENGINE_FORMATS,
  type EngineManifest,
  engineManifestSchema,
  engineSigningPayload,
  legacyEngineSigningPayload,
  rollbackSigningPayload,
} from './desired.js';
export {
  DEVICE_CLASS_ALIASES,
  DEVICE_CLASSES,
  type DeviceClass,
  DLA_CORES,
  deviceClassSchema,
  dlaCores,
  resolveDeviceClass,
} from './device-classes.js';
export { protocolDoc } from './docs.js';
export { type FieldIssue, fieldIssues, PayloadError, ProtocolError, TopicError } from './errors.js';
export {
  examples,
  facesMessage,
  metricsMessage,
  reportedMessage,
  statusMessage,
} from './examples.js';
export { isFacesFast } from './fast-check.js';
export {
  HA_DEFAULT_PREFIX,
  type HaDevice,
  type HaDiscoveryMessage,
  haDiscoveryMessages,
  haDiscoveryTopics,
  haNodeId,
  haPrefixProblem,
  haStatusTopic,
} from './home-assistant.js';
export {
  deviceIdSchema,
  ID_MAX_LENGTH,
  ID_PATTERN,
  idRule,
  isValidId,
  RESERVED_IDS,
  ruleIdSchema,
} from './ids.js';
export { jsonSchemas, PUBLISHED_SCHEMAS } from './json-schemas.js';
export { MAX_BOXES, MAX_FACES, MAX_PAYLOAD_BYTES } from './limits.js';
export {
  AP_MODES,
  type ApFigures,
  apFiguresSchema,
  DEVICE_STATES,
  type EngineRef,
  type Envelope,
  engineRefSchema,
  envelopeSchema,
  type Faces,
  type FpsFigures,
  facesSchema,
  fpsFiguresSchema,
  type Metrics,
  metricsSchema,
  REBUILD_STATES,
  type Rebuild,
  type Reported,
  RUNNER_STATES,
  rebuildSchema,
  reportedSchema,
  type Status,
  statusSchema,
  UPDATE_STATES,
  type UpdateGate,
  type UpdateState,
  updateGateSchema,
} from './messages.js';
export { MODEL_CARD_FPS, modelCardFps } from './model-card.js';
export {
  AGENT_CLIENT_ID_PREFIX,
  agentClientId,
  CONTROL_PLANE_USERNAME,
  type MqttUser,
  mayUseClientId,
  parseMqttUsername,
  SUBSCRIBER_PREFIX,
  subscriberUsername,
} from './mqtt-users.js';
export { parseJsonPayload, parsePayload } from './parse.js';
export {
  fpsRatio,
  type LastFaces,
  type LastMetrics,
  lastFaces,
  lastMetrics,
  type MetricsSample,
  metricsSample,
  referenceFps,
  tempMaxC,
} from './projections.js';
export {
  CAMERA_STATES,
  CLUSTER_MODES,
  DEFAULT_CAMERA_ID,
  isRunnerFrame,
  parseRunnerLine,
  RUNNER_BACKENDS,
  RUNNER_ERROR_CODES,
  RUNNER_EXIT_CODES,
  RUNNER_MODELS,
  type RunnerError,
  type RunnerFrame,
  type RunnerHello,
  type RunnerLine,
  type RunnerLineResult,
  type RunnerStats,
  runnerCameraIdSchema,
  runnerErrorSchema,
  runnerFrameSchema,
  runnerHelloSchema,
  runnerLineSchema,
  runnerStatsSchema,
  SOURCE_KINDS,
} from './runner-output.js';
export {
  assertTopicFilter,
  assertTopicName,
  DEVICE_TOPIC_KINDS,
  type DeviceTopicKind,
  filterCovers,
  filters,
  formatTopic,
  type ParsedTopic,
  parseTopic,
  TOPIC_ROOT,
  topicMatches,
  topics,
} from './topics.js';
