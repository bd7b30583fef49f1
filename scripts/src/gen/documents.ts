import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import {
  FUNCTIONS,
  LifecycleEventSchema,
  SCHEDULER_JOBS,
  SUBSCRIPTIONS,
  TOPICS,
  WorldManifestSchema,
} from '@fleetforge/shared';
import { ROUTES, openApiDocument } from '@fleetforge/functions';
import { apiMarkdown, type OpenApiDoc } from './api-doc';

export const repoRoot = resolve(__dirname, '..', '..', '..');

/** Every generated file, by path from the repository root. `npm run gen` writes them; a test keeps them current. */
export function generatedFiles(): Record<string, string> {
  return {
    'docs/openapi.json': json(openApiDocument(ROUTES)),
    'docs/api.md': apiMarkdown(openApiDocument(ROUTES) as unknown as OpenApiDoc),
    'docs/events.schema.json': json({
      $id: 'https://fleetforge.dev/schemas/lifecycle-event.json',
      title: 'FleetForge lifecycle event',
      description: 'One document of the events collection, as GET /v1/events and `ffctl events -o json` return it.',
      ...z.toJSONSchema(LifecycleEventSchema, { io: 'output' }),
    }),
    'docs/world-manifest.schema.json': json({
      $id: 'https://fleetforge.dev/schemas/world-manifest.json',
      title: 'FleetForge World manifest',
      description: 'What `ffctl world apply -f` accepts (defaults filled in by the API).',
      ...z.toJSONSchema(WorldManifestSchema, { io: 'input' }),
    }),
    // Terraform loads *.auto.tfvars.json by itself; terraform/variables.tf declares the type.
    'terraform/registry.auto.tfvars.json': json({ registry: terraformRegistry() }),
  };
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

interface IndexesFile {
  indexes: Array<{
    collectionGroup: string;
    queryScope?: string;
    fields: Array<{ fieldPath: string; order?: string; arrayConfig?: string }>;
  }>;
}

/** shared/src/ports/topology.ts and firestore.indexes.json as var.registry: what terraform/ deploys, in its naming. */
function terraformRegistry() {
  const { indexes } = JSON.parse(readFileSync(join(repoRoot, 'firestore.indexes.json'), 'utf8')) as IndexesFile;
  return {
    topics: TOPICS,
    subscriptions: SUBSCRIPTIONS.map((s) => ({
      name: s.name,
      topic: s.topic,
      delivery: s.delivery,
      ack_deadline_seconds: s.ackDeadlineSeconds,
      max_delivery_attempts: s.maxDeliveryAttempts,
    })),
    functions: Object.fromEntries(
      Object.entries(FUNCTIONS).map(([key, f]) => [
        key,
        { name: f.name, signature: f.signature, description: f.description, publishes: f.publishes },
      ]),
    ),
    scheduler_jobs: SCHEDULER_JOBS.map((j) => ({
      name: j.name,
      schedule: j.schedule,
      target: j.target,
      description: j.description,
    })),
    firestore_indexes: indexes.map((ix) => ({
      collection: ix.collectionGroup,
      query_scope: ix.queryScope ?? 'COLLECTION',
      fields: ix.fields.map((f) => ({ field_path: f.fieldPath, order: f.order, array_config: f.arrayConfig })),
    })),
  };
}
