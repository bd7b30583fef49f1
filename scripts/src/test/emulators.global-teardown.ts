export default async function globalTeardown(): Promise<void> {
  await globalThis.__FF_EMULATORS__?.stop();
}
