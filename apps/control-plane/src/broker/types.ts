/** What the rest of the control plane needs from an MQTT broker, embedded or external. */
export interface Broker {
  /** Publishes as the control plane (desired state, alerts); resolves when the broker took it. */
  publish(topic: string, payload: string, options: { retain: boolean; qos: 0 | 1 }): Promise<void>;
  /** Devices connected now (embedded: counted by the broker; external: null, unknown). */
  connectedDevices(): number | null;
  /** Ports it listens on (embedded), for tests and logs. */
  readonly ports: { mqtt: number | null; ws: number | null };
  /**
   * Stops taking device messages before a shutdown (what is in flight is still acknowledged after
   * it is committed): an external broker then routes the shared subscription's messages to the
   * other instances instead of queueing them for this one.
   */
  drain?(): Promise<void>;
  close(): Promise<void>;
}
