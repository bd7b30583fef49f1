export default async function globalTeardown(): Promise<void> {
  await globalThis.__FF_KUBE_EMULATORS__?.stop();
  await globalThis.__FF_KUBE__?.stop();
}
