import { Type, type Static } from '@sinclair/typebox';
import { DASHBOARD_CONFIG_EXAMPLE } from './examples.ts';

/** GET /dashboard/config.json: what the web dashboard needs to know at load. */
export const DashboardConfigSchema = Type.Object(
  {
    inferenceUrl: Type.Union([Type.String(), Type.Null()], {
      description:
        "The inference API's URL the Diagnose page uses by default (INFERENCE_URL); null when unset (the page asks for it)",
    }),
    version: Type.String({ description: 'The software version of this aggregator' }),
  },
  { examples: [DASHBOARD_CONFIG_EXAMPLE] },
);
export type DashboardConfig = Static<typeof DashboardConfigSchema>;
