import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { renderTable } from '../table.js';
import { clientFor, positionalArgs, printJson } from './common.js';

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const list: Command = {
  path: ['devices', 'cert', 'list'],
  summary: "a device's client certificates (for MQTT over TLS), revoked ones too",
  args: 'ID',
  async run(ctx, values, positionals) {
    const [id] = positionalArgs(positionals, ['ID'], 'devices cert list');
    const certificates = await clientFor(ctx, values).listCertificates(id!);
    if (values.json) {
      printJson(ctx, certificates);
      return EXIT.ok;
    }
    if (certificates.length === 0) {
      ctx.stdout.write(`no certificates for ${id}\n`);
      return EXIT.ok;
    }
    ctx.stdout.write(
      renderTable(certificates, [
        { header: 'FINGERPRINT (SHA-256)', value: (c) => c.fingerprint },
        { header: 'VALID FROM', value: (c) => day(c.notBefore) },
        { header: 'UNTIL', value: (c) => day(c.notAfter) },
        { header: 'REVOKED', value: (c) => (c.revokedAt === null ? null : day(c.revokedAt)) },
      ]),
    );
    return EXIT.ok;
  },
};

const add: Command = {
  path: ['devices', 'cert', 'add'],
  summary:
    'enroll a device certificate (PEM, signed by the fleet CA, subject CN = the device id): the device may then log in to MQTT over TLS with it instead of its token',
  args: 'ID FILE',
  async run(ctx, values, positionals) {
    const [id, file] = positionalArgs(positionals, ['ID', 'FILE'], 'devices cert add');
    let pem: string;
    try {
      pem = readFileSync(file!, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code})`);
    }
    const certificate = await clientFor(ctx, values).addCertificate(id!, pem);
    if (values.json) printJson(ctx, certificate);
    else {
      ctx.stdout.write(
        `enrolled a certificate for ${id}, valid until ${day(certificate.notAfter)}\nfingerprint ${certificate.fingerprint}\n`,
      );
    }
    return EXIT.ok;
  },
};

const revoke: Command = {
  path: ['devices', 'cert', 'revoke'],
  summary:
    "revoke a device certificate: it logs in no more, and the device's MQTT sessions are closed",
  args: 'ID FINGERPRINT',
  async run(ctx, values, positionals) {
    const [id, fingerprint] = positionalArgs(
      positionals,
      ['ID', 'FINGERPRINT'],
      'devices cert revoke',
    );
    const r = await clientFor(ctx, values).revokeCertificate(id!, fingerprint!);
    if (values.json) printJson(ctx, r);
    else {
      ctx.stdout.write(`revoked ${r.revoked}\n`);
      if ('warning' in r && r.warning) ctx.stderr.write(`warning: ${r.warning}\n`);
    }
    return EXIT.ok;
  },
};

/** `facefleet devices cert …`: device certificates. */
export const certificateCommands: readonly Command[] = [list, add, revoke];
