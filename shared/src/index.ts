/**
 * `@fleetforge/shared`: the pure domain (no SDK, no `node:` module), by folder:
 * - `core/`: the one error type, zod boundary helpers, time helpers;
 * - `world/`: geometry, the WorldSpec, stored documents and events;
 * - `elasticity/`: the scaling engine, operations, the reconcile and tick planners;
 * - `tenancy/`: tiers, tenant planning and manifests;
 * - `billing/`: metering, cost and tamper-evident exports;
 * - `ports/`: the interfaces adapters implement, messages, topics and metric names;
 * - `api/`: HTTP types and the permission model.
 */
export * from './core';
export * from './world';
export * from './ports';
export * from './elasticity';
export * from './tenancy';
export * from './billing';
export * from './api';
