import { z } from 'zod';
import { LifecycleEventSchema, WorldManifestSchema } from '@fleetforge/shared';
import { ROUTES, openApiDocument } from '@fleetforge/functions';

/** Every generated document under docs/, by file name. `npm run gen` writes them; a test keeps them current. */
export function generatedDocuments(): Record<string, string> {
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  return {
    'openapi.json': json(openApiDocument(ROUTES)),
    'events.schema.json': json({
      $id: 'https://fleetforge.dev/schemas/lifecycle-event.json',
      title: 'FleetForge lifecycle event',
      description: 'One document of the events collection, as GET /v1/events and `ffctl events -o json` return it.',
      ...z.toJSONSchema(LifecycleEventSchema, { io: 'output' }),
    }),
    'world-manifest.schema.json': json({
      $id: 'https://fleetforge.dev/schemas/world-manifest.json',
      title: 'FleetForge World manifest',
      description: 'What `ffctl world apply -f` accepts (defaults filled in by the API).',
      ...z.toJSONSchema(WorldManifestSchema, { io: 'input' }),
    }),
  };
}
