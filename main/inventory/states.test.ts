// Shipped migrations are frozen, so their CHECKs cannot be written from core/states.ts: this holds the
// CHECK of each state column in the schema a fresh inventory gets equal to the list, and the moves
// table of each entity to cover exactly its states.
import { describe, expect, it } from 'vitest';
import { useTempInventory } from '../../test/support/inventory.js';
import { BUNDLE_STATES, DEPLOYMENT_STATES, DEVICE_IMAGE_STATES, JOB_STATES, TRANSFER_STATES } from '../../core/states.js';
import { BUNDLE_MOVES, DEPLOYMENT_MOVES, DEVICE_IMAGE_MOVES, TRANSFER_MOVES } from './states.js';

const inv = useTempInventory('lighter-states-');

/** The values of `CHECK (state IN (...))` in the table's current CREATE statement. */
function checkedStates(table: string): string[] {
  const { sql } = inv.db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as { sql: string };
  const m = /\bstate\s+TEXT\s+NOT\s+NULL\s+CHECK\s*\(\s*state\s+IN\s*\(([^)]*)\)\s*\)/i.exec(sql);
  if (!m) throw new Error(`${table} has no CHECK on state`);
  return m[1]!.split(',').map((v) => v.trim().replace(/^'|'$/g, ''));
}

describe('state lists', () => {
  it.each([
    ['device_images', DEVICE_IMAGE_STATES],
    ['deployments', DEPLOYMENT_STATES],
    ['transfers', TRANSFER_STATES],
    ['bundles', BUNDLE_STATES],
    ['jobs', JOB_STATES],
  ] as const)('the CHECK on %s.state is the list in core/states.ts', (table, states) => {
    expect(checkedStates(table)).toEqual([...states]);
  });

  it('every state has a row of moves, and moves only to states of its own machine', () => {
    const machines = [
      [DEVICE_IMAGE_MOVES, DEVICE_IMAGE_STATES, ['null']],
      [DEPLOYMENT_MOVES, DEPLOYMENT_STATES, []],
      [TRANSFER_MOVES, TRANSFER_STATES, []],
      [BUNDLE_MOVES, BUNDLE_STATES, []],
    ] as const;
    for (const [moves, states, extra] of machines) {
      expect(Object.keys(moves).sort()).toEqual([...states, ...extra].sort());
      for (const to of Object.values(moves).flat()) expect(states).toContain(to);
    }
  });
});
