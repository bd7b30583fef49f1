export default async function globalTeardown(): Promise<void> {
  await globalThis.__FF_REDIS__?.process.stop();
  await globalThis.__FF_EMULATORS__?.stop();
}
