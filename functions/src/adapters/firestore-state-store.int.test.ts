import { stateStoreContract, testProjectId } from '@fleetforge/shared/testing';

import { FirestoreStateStore } from './firestore-state-store';

// Each test gets a fresh project on the emulator: an empty database.
stateStoreContract(
  'FirestoreStateStore on the Firestore emulator',
  async () => new FirestoreStateStore(testProjectId('fs')),
);

describe('FirestoreStateStore', () => {
  it('is talking to the emulator, not to production', () => {
    expect(process.env.FIRESTORE_EMULATOR_HOST).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});
