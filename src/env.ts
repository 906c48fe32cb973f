// The one place gatelog reads process.env. Secrets have no defaults.
import { z } from 'zod';

export const Env = z.object({
  GATELOG_CONFIG: z.string().min(1).optional(),
  GATELOG_DATA_DIR: z.string().min(1).default('./data'),
  GATELOG_MASTER_KEY: z.string().min(8, 'GATELOG_MASTER_KEY must be at least 8 characters').optional(),
  GATELOG_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  GATELOG_UI_BUILD: z.string().min(1).optional(),
});
export type Env = z.infer<typeof Env>;

export function readEnv(env: NodeJS.ProcessEnv): Env {
  const clean = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('GATELOG_') && v !== ''));
  return Env.parse(clean);
}
