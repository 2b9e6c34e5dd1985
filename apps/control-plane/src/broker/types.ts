/** What the rest of the control plane needs from an MQTT broker, embedded or external. */
export interface Broker {
  /** Publishes as the control plane (desired state, alerts); resolves when the broker took it. */
  publish(topic: string, payload: string, options: { retain: boolean; qos: 0 | 1 }): Promise<void>;
  /**
   * Calls `handler` with what is published to `topic` (no wildcards) from now on; brokers that
   * only publish (the serverless entry's) leave it out.
   */
  watch?(topic: string, handler: (payload: Buffer) => void): void;
  /** Devices connected now (embedded: counted by the broker; external: null, unknown). */
  connectedDevices(): number | null;
  /** Ports it listens on (embedded: plain MQTT, WebSocket, TLS, secure WebSocket), for tests and logs. */
  readonly ports: {
    mqtt: number | null;
    ws: number | null;
    tls: number | null;
    wss: number | null;
  };
  close(): Promise<void>;
}
