import { ADMIN, VIEWER, expect, hydrated, signIn, test } from "./helpers";

test("an admin signs in, switches to 中文 and back without a reload, and sees the audit log", async ({ page }) => {
  await signIn(page, ADMIN);
  await expect(page.locator("nav.nav")).toContainText("Dashboards");
  await expect(page.locator("nav.nav")).toContainText("Admin");

  // Mark the document: a full reload would lose the marker.
  await page.evaluate(() => ((window as any).__no_reload = "still-here"));
  await page.getByTestId("lang-switch").click();
  await expect(page.locator("nav.nav")).toContainText("仪表盘");
  await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
  expect(await page.evaluate(() => (window as any).__no_reload)).toBe("still-here");

  await page.getByTestId("lang-switch").click();
  await expect(page.locator("nav.nav")).toContainText("Dashboards");
  expect(await page.evaluate(() => (window as any).__no_reload)).toBe("still-here");

  // Client-side navigation to the admin pages.
  await page.locator("nav.nav a", { hasText: "Admin" }).click();
  await expect(page.getByTestId("users-table")).toContainText(VIEWER.email);
  expect(await page.evaluate(() => (window as any).__no_reload)).toBe("still-here");

  await page.goto("/admin/audit");
  await expect(page.getByTestId("audit-table")).toContainText("session.login");
  // The language change was stored on the account, and audited.
  await expect(page.getByTestId("audit-table")).toContainText("user.preferences");
});

test("an admin creates an API key and sees it exactly once", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.goto("/admin/api-keys");
  await hydrated(page);
  await page.fill("input[name=name]", "e2e ingest");
  await page.click("form button[type=submit]");
  const key = page.getByTestId("new-api-key");
  await expect(key).toContainText("vgl_");
  await page.reload();
  await expect(page.locator("table")).toContainText("e2e ingest");
  await expect(page.getByTestId("new-api-key")).toHaveCount(0);
});

test("a viewer has no admin link and cannot open the admin page", async ({ page }) => {
  await signIn(page, VIEWER);
  await expect(page.locator("nav.nav")).toContainText("Dashboards");
  await expect(page.locator("nav.nav")).not.toContainText("Admin");
  const res = await page.goto("/admin");
  expect(res?.status()).toBe(403);
  await expect(page.getByTestId("forbidden")).toBeVisible();
  await expect(page.getByTestId("users-table")).toHaveCount(0);
});

test("signed-out visitors are sent to the sign-in page, and unknown pages are 404", async ({ page }) => {
  await page.goto("/admin/audit");
  await expect(page).toHaveURL(/\/login\?next=\/admin\/audit/);
  await expect(page.locator("h1")).toContainText("Sign in");
  await signIn(page, VIEWER);
  const res = await page.goto("/no-such-page");
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId("not-found")).toBeVisible();
});

test("pages hydrate under a nonce-based Content-Security-Policy that blocks injected scripts", async ({ page, browserErrors }) => {
  const res = await page.goto("/login");
  const csp = res!.headers()["content-security-policy"] ?? "";
  expect(csp).toMatch(/script-src 'self' 'wasm-unsafe-eval' 'nonce-[A-Za-z0-9_-]{16,}'/);
  expect(csp).toContain("frame-ancestors 'none'");
  await hydrated(page);
  // A script injected into the page (as an XSS would) carries no nonce and does not run.
  const ran = await page.evaluate(async () => {
    const s = document.createElement("script");
    s.textContent = "window.__injected = true";
    document.body.appendChild(s);
    await new Promise((r) => setTimeout(r, 50));
    return (window as any).__injected === true;
  });
  expect(ran).toBe(false);
  await expect.poll(() => browserErrors.some((e) => /Content.Security.Policy/i.test(e))).toBe(true);
  // That refusal is this test's point, not a failure of the app.
  browserErrors.length = 0;
});
