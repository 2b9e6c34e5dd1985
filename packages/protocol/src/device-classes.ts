import { z } from 'zod';

/**
 * Device classes an engine can target. A TensorRT engine runs only on the GPU and TensorRT version it
 * was built for, so engines are built and rolled out per class. `generic-*` are CPU devices that run
 * the runner's OpenCV backend on ONNX models.
 */
export const DEVICE_CLASSES = [
  'jetson-nano',
  'jetson-tx2',
  'jetson-xavier-nx',
  'jetson-agx-xavier',
  'jetson-orin-nano',
  'jetson-orin-nx',
  'jetson-agx-orin',
  'generic-x86_64',
  'generic-arm64',
] as const;
export const deviceClassSchema = z.enum(DEVICE_CLASSES);
export type DeviceClass = z.infer<typeof deviceClassSchema>;

/** Short names operators type (`nano:40,xavier-nx:40`) → device classes. */
export const DEVICE_CLASS_ALIASES: Record<string, DeviceClass> = {
  nano: 'jetson-nano',
  tx2: 'jetson-tx2',
  'xavier-nx': 'jetson-xavier-nx',
  nx: 'jetson-xavier-nx',
  'agx-xavier': 'jetson-agx-xavier',
  agx: 'jetson-agx-xavier',
  'orin-nano': 'jetson-orin-nano',
  'orin-nx': 'jetson-orin-nx',
  'agx-orin': 'jetson-agx-orin',
  x86_64: 'generic-x86_64',
  arm64: 'generic-arm64',
};

/** Resolves a class name or alias; undefined when neither. */
export function resolveDeviceClass(name: string): DeviceClass | undefined {
  const parsed = deviceClassSchema.safeParse(name);
  return parsed.success ? parsed.data : DEVICE_CLASS_ALIASES[name];
}

/**
 * Deep-learning accelerator (NVDLA) cores per class: Xavier NX, AGX Xavier and AGX Orin have two;
 * Orin NX has two on the 16 GB module and one on the 8 GB one (the class does not tell them apart:
 * the runner refuses a core the module lacks, `model_load`). Nano, TX2 and Orin Nano have none.
 */
export const DLA_CORES: Partial<Record<DeviceClass, number>> = {
  'jetson-xavier-nx': 2,
  'jetson-agx-xavier': 2,
  'jetson-orin-nx': 2,
  'jetson-agx-orin': 2,
};

/** DLA cores of a class (0: none). */
export const dlaCores = (c: DeviceClass): number => DLA_CORES[c] ?? 0;
