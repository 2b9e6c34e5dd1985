/**
 * FaceNet inference-only throughput from NVIDIA's FaceNet model card (NGC, pruned INT8, batch 1,
 * measured with trtexec). Only the classes the card lists; T4 is a datacenter GPU kept for reference.
 */
export const MODEL_CARD_FPS = {
  'jetson-nano': 16,
  'jetson-xavier-nx': 329,
  'jetson-agx-xavier': 537,
  t4: 1703,
} as const;

/** The model card's reference FPS for a device class, when the card lists it. */
export function modelCardFps(deviceClass: string): number | undefined {
  return (MODEL_CARD_FPS as Record<string, number>)[deviceClass];
}
