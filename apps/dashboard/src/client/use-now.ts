import { useEffect, useState } from 'preact/hooks';

/** The current time, re-read every few seconds, for "last seen 12 s ago". */
export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
