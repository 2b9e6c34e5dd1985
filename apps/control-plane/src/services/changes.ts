/**
 * What the use cases changed, for the parts that keep something derived from it: the alert
 * executor's device and rule lists, the live feed. A service publishes
 * a change once it is stored; listeners react. (Within one process now; several instances relay
 * the same changes to each other through the store.)
 */
export type Change =
  /** A device was enrolled, retagged, had its token rotated, or was deleted. */
  | { kind: 'device'; id: string }
  /** Alert rules were created or deleted. */
  | { kind: 'rules' };

export type ChangeListener = (change: Change) => void | Promise<void>;

export function createChangeFeed() {
  const listeners = new Set<ChangeListener>();
  return {
    /**
     * Tells every listener; resolves when all have taken it in (so an API answer comes after the
     * alert executor already evaluates with a new rule or device).
     */
    async publish(change: Change): Promise<void> {
      await Promise.all([...listeners].map((listener) => listener(change)));
    },
    subscribe(listener: ChangeListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
export type ChangeFeed = ReturnType<typeof createChangeFeed>;
