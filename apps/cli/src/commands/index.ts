import type { Command } from '../command.js';
import { certificateCommands } from './certificates.js';
import { deviceCommands } from './devices.js';
import { engineCommands } from './engines.js';
import { fps } from './fps.js';
import { rolloutCommands } from './rollouts.js';
import { login, status } from './session.js';
import { simulate } from './simulate.js';
import { tailCommands } from './tail.js';

/** Every command of `facefleet`, in the order the help lists them. */
export const commands: readonly Command[] = [
  login,
  status,
  ...deviceCommands,
  ...certificateCommands,
  ...engineCommands,
  ...rolloutCommands,
  fps,
  ...tailCommands,
  simulate,
];
