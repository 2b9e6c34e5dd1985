/** Largest MQTT payload any facefleet client may publish (the control plane refuses larger ones). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Most boxes in one runner frame line or one faces window. */
export const MAX_BOXES = 256;
/** Largest face count a frame can report (a 736×416 input holds at most 46×26 grid cells). */
export const MAX_FACES = 10_000;
/** Timestamps are milliseconds since the Unix epoch; this bounds them to years 2000–2200. */
export const MIN_TS_MS = 946_684_800_000;
export const MAX_TS_MS = 7_258_118_400_000;
