import type { Page } from "@playwright/test";

// Accounts created by scripts/e2e.sh with `vigil user add` before the suite runs.
export const ADMIN = { email: "e2e-admin@example.com", password: "e2e-admin-password" };
export const VIEWER = { email: "e2e-viewer@example.com", password: "e2e-viewer-password" };

/** Waits until the WebAssembly bundle has hydrated the page. */
export async function hydrated(page: Page) {
  await page.waitForFunction(() => (window as any).__vigil_hydrated === true);
}

/** Signs in through the form and waits for the next page to hydrate. */
export async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto("/login");
  // Wait for hydration so the form is handled by the app, not a plain post.
  await hydrated(page);
  await page.fill("input[name=email]", who.email);
  await page.fill("input[name=password]", who.password);
  await page.click("button[type=submit]");
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  await hydrated(page);
}
