/**
 * Imported first by main.ts, before any schema is built. The page's Content-Security-Policy
 * forbids eval, and zod (the SDK's frame schemas) probes for it with `new Function` when it builds
 * an object schema, which the browser reports as a policy violation on every load. Without eval
 * zod validates the same, by interpretation.
 */
import { config } from 'zod';

config({ jitless: true });
