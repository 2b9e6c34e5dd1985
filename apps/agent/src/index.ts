export { type Agent, type AgentOptions, createAgent, type DetectionSource } from './agent.js';
export {
  type AgentConfig,
  CONFIG_KEYS,
  configSchema,
  loadConfig,
  parseEd25519PublicKey,
  usage,
} from './config.js';
export {
  AbortedError,
  AgentError,
  ConfigError,
  OutboxError,
  ParseError,
  RunnerSupervisorError,
  UpdateError,
  VerifyError,
} from './errors.js';
export {
  createHealthCollector,
  type DeviceHealth,
  detectTrtVersion,
  type HealthCollector,
  identifyDevice,
} from './health/collector.js';
export {
  deviceClassFromModel,
  genericDeviceClass,
  L4T_TO_JETPACK,
  parseDeviceTreeModel,
  parseNvpmodel,
  parseNvTegraRelease,
} from './health/jetson-info.js';
export { cpuPercent, parseMeminfo, parseProcStat } from './health/proc.js';
export { parseTegrastats, type TegraStats } from './health/tegrastats.js';
export { parseTrtexecSummary, type TrtexecSummary } from './health/trtexec.js';
export { createMqttLink, type MqttLink } from './mqtt/link.js';
export { type Outbox, openOutbox } from './outbox/outbox.js';
export {
  createRunnerSupervisor,
  type RunnerExit,
  type RunnerSupervisor,
  type RunnerSupervisorEvents,
  type SupervisorSnapshot,
} from './runner/supervisor.js';
export { createFacesAggregator } from './telemetry/faces-window.js';
export { createRunnerMetrics } from './telemetry/runner-metrics.js';
export { incompatibility, plan, type Step } from './update/planner.js';
export type { DeviceFacts, EngineState, InstalledEngine } from './update/state.js';
