import type { CollisionWinner, EntityDefinition } from '../entities.js';

/**
 * R1: whether local changes of an entity's records go to the CRM. Persons (lead, contact) sync both
 * ways; accounts, users, teams, opportunities and every custom entity sync from the CRM only. The
 * direction is data of the registry (a custom entity is added by configuration); this is where it is read.
 */
export function syncsBothWays(entity: EntityDefinition): boolean {
  return entity.direction === 'both';
}

/**
 * R2: who wins when the same field changed on both sides since the last agreed value: the entity's
 * winner for a two-way entity (local for leads, the CRM for contacts), always the CRM for a one-way one.
 */
export function collisionWinner(entity: EntityDefinition): CollisionWinner {
  return syncsBothWays(entity) ? entity.collisionWinner : 'crm';
}
