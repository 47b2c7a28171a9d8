import { test as base, expect, type Page } from "@playwright/test";

/**
 * `test` with the browser's console errors and uncaught exceptions collected: they are
 * printed when a test fails (a hydration panic shows up here, not in the server log).
 */
export const test = base.extend<{ browserErrors: string[] }>({
  browserErrors: [
    async ({ page }, use, testInfo) => {
      const errors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") errors.push(`console.${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
      page.on("requestfailed", (r) => errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
      await use(errors);
      if (testInfo.status !== testInfo.expectedStatus && errors.length > 0) {
        console.log(`browser errors in "${testInfo.title}":\n  ${errors.join("\n  ")}`);
      }
      // The whole suite runs under the server's Content-Security-Policy: anything it
      // blocks (a script without the nonce, an eval, a frame) fails the test.
      expect(errors.filter((e) => /Content.Security.Policy/i.test(e))).toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

// Accounts created by scripts/e2e.sh with `vigil user add` before the suite runs.
export const ADMIN = { email: "e2e-admin@example.com", password: "e2e-admin-password" };
export const VIEWER = { email: "e2e-viewer@example.com", password: "e2e-viewer-password" };
export const EDITOR = { email: "e2e-editor@example.com", password: "e2e-editor-password" };

/** Waits until the WebAssembly bundle has hydrated the page. */
export async function hydrated(page: Page) {
  await page.waitForFunction(() => (window as any).__vigil_hydrated === true, null, { timeout: 20_000 });
}

const watched = new WeakSet<Page>();

/** Prints a page's uncaught exceptions and console errors as they happen (pages of extra
 *  browser contexts are not covered by the `browserErrors` fixture). */
export function watch(page: Page) {
  if (watched.has(page)) return;
  watched.add(page);
  page.on("pageerror", (e) => console.log(`[browser ${page.url()}] pageerror: ${e.message}`));
  page.on("console", (m) => {
    // A 4xx answer to invalid input is expected in several flows; panics and script errors are not.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
      console.log(`[browser ${page.url()}] console.error: ${m.text().slice(0, 500)}`);
    }
  });
}

/** Signs in through the form and waits for the next page to hydrate. */
export async function signIn(page: Page, who: { email: string; password: string }) {
  watch(page);
  await page.goto("/login");
  // Wait for hydration so the form is handled by the app, not a plain post.
  await hydrated(page);
  await page.fill("input[name=email]", who.email);
  await page.fill("input[name=password]", who.password);
  await page.click("button[type=submit]");
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  await hydrated(page);
}

/** Creates an API key on the admin page (the page is an admin's) and returns it. */
export async function apiKey(admin: Page, name: string, scope = "ingest") {
  await admin.goto("/admin/api-keys");
  await hydrated(admin);
  await admin.fill("input[name=name]", name);
  await admin.selectOption("select[name=scope]", scope);
  await admin.click("form button[type=submit]");
  return (await admin.getByTestId("new-api-key").textContent())!.trim();
}

/** Posts one alert to the Alertmanager receiver as Alertmanager's webhook does. */
export async function sendAlertmanager(
  page: Page,
  key: string,
  status: "firing" | "resolved",
  alert: { fingerprint: string; labels: Record<string, string>; summary: string },
) {
  const res = await page.request.post("/api/v1/integrations/alertmanager", {
    headers: { Authorization: `Bearer ${key}` },
    data: {
      version: "4",
      status,
      receiver: "vigil",
      alerts: [
        {
          status,
          fingerprint: alert.fingerprint,
          labels: alert.labels,
          annotations: { summary: alert.summary },
          startsAt: new Date(Date.now() - 60_000).toISOString(),
          endsAt: status === "firing" ? "0001-01-01T00:00:00Z" : new Date().toISOString(),
        },
      ],
    },
  });
  expect(res.status()).toBe(200);
}
