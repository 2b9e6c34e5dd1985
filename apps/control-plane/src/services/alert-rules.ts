import type { AlertRuleRow, Store } from '@facefleet/store';
import { type WebhookPolicy, webhookUrlRefusal } from '../alerts/webhook.js';
import { ServiceError } from '../errors.js';
import type { ChangeFeed } from './changes.js';

/** An alert rule as the API takes it (validated there). */
export interface AlertRuleInput {
  id: string;
  kind: string;
  threshold: number;
  forS: number;
  severity: string;
  selector?: Record<string, unknown> | undefined;
  webhookUrl?: string | undefined;
  enabled: boolean;
}

/** Alert rules: stored, then announced so the alert executor evaluates with them at once. */
export function createAlertRuleService(deps: {
  store: Store;
  changes: ChangeFeed;
  /** Which webhook hosts are allowed (internal addresses are not, unless listed). */
  webhooks: WebhookPolicy;
}) {
  const { store, changes } = deps;
  return {
    async create(input: AlertRuleInput): Promise<AlertRuleRow> {
      const refusal = input.webhookUrl && webhookUrlRefusal(input.webhookUrl, deps.webhooks);
      if (refusal) throw new ServiceError('invalid', refusal, 'webhookUrl');
      const row = await store.alerts.insertRule({
        id: input.id,
        kind: input.kind,
        threshold: input.threshold,
        forS: input.forS,
        severity: input.severity,
        selector: JSON.stringify(input.selector ?? {}),
        webhookUrl: input.webhookUrl ?? null,
        enabled: input.enabled,
        createdAt: Date.now(),
      });
      if (!row)
        throw new ServiceError('conflict', `rule ${input.id} exists`, 'id', 'already exists');
      await changes.publish({ kind: 'rules' });
      return row;
    },
    async remove(id: string): Promise<void> {
      if (!(await store.alerts.deleteRule(id)))
        throw new ServiceError('not_found', `no rule ${id}`);
      await changes.publish({ kind: 'rules' });
    },
  };
}
export type AlertRuleService = ReturnType<typeof createAlertRuleService>;
