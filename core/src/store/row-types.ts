// zod pieces for rows as ClickHouse returns them in JSONEachRow: DateTime64 printed as
// `YYYY-MM-DD hh:mm:ss.sss` (UTC here) exposed as ISO, and numbers that may come quoted.
import { z } from 'zod';

/** A DateTime64 column as an ISO-8601 UTC string. */
export const ChTime = z.string().transform((s) => (s.includes('T') ? s : `${s.replace(' ', 'T')}Z`));
/** A numeric column (64-bit values arrive as strings). */
export const Num = z.coerce.number();
