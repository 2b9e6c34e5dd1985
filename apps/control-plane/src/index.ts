export { createApp } from './api/app.js';
export { type Config, configSchema, loadConfig } from './config.js';

export { ConfigError, ControlPlaneError } from './errors.js';
export { createServer, type RunningServer } from './server.js';
