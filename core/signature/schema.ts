// Signatures come from files (`lighter signature`, the inventory): parse them with hard bounds.
import { z } from 'zod';
import type { ImageSignature } from './types.js';

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);
const size = z.number().int().nonnegative().max(2 ** 46);

export const imageSignatureSchema: z.ZodType<ImageSignature> = z
  .object({
    version: z.union([z.literal(1), z.literal(2)]),
    configDigest: digest,
    repoTags: z.array(z.string().max(512)).max(256),
    layers: z
      .array(
        z.object({
          diffID: digest,
          size,
          files: z
            .array(
              z
                .object({
                  path: z.string().max(4096),
                  size,
                  hash: digest.optional(),
                  packed: size.optional(),
                  // A sketch keeps about 4,096 samples (core/signature/sketch.ts); bounded well above that.
                  sketch: z.string().max(65_536).regex(/^[A-Za-z0-9+/]*={0,2}$/).optional(),
                  sketchBits: z.number().int().min(8).max(30).optional(),
                })
                .strict()
                .refine((f) => (f.sketch === undefined) === (f.sketchBits === undefined), 'sketch and sketchBits come together'),
            )
            .max(2_000_000),
        }).strict(),
      )
      .max(1000),
  })
  .strict();

export function parseImageSignature(json: unknown, what: string): ImageSignature {
  const r = imageSignatureSchema.safeParse(json);
  if (!r.success) throw new Error(`${what} is not an image signature: ${r.error.issues[0]?.path.join('.')} ${r.error.issues[0]?.message}`);
  return r.data;
}
