// Integration tests talk to the emulators: allow 30 s per test (Jest 29 has no per-project testTimeout).
jest.setTimeout(30_000);
