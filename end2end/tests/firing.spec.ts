import { ADMIN, VIEWER, apiKey, expect, hydrated, sendAlertmanager, signIn, test } from "./helpers";

test("an Alertmanager alert shows on the home card and the navigation badge, and clears from both, without a reload", async ({
  page,
  browser,
}, testInfo) => {
  test.setTimeout(150_000);
  const name = `E2E DiskFull ${testInfo.retry}-${Date.now() % 100000}`;
  // An ingest key, as Alertmanager's webhook would hold it.
  const actx = await browser.newContext();
  const admin = await actx.newPage();
  await signIn(admin, ADMIN);
  const key = await apiKey(admin, `e2e alertmanager ${testInfo.retry}`);
  const send = (status: "firing" | "resolved") =>
    sendAlertmanager(admin, key, status, {
      fingerprint: `e2e-${testInfo.retry}-${name.length}`,
      labels: { alertname: name, severity: "critical", instance: "db1" },
      summary: "disk 97% full",
    });

  // A viewer has the home page open; nothing reloads it from here on.
  await signIn(page, VIEWER);
  await page.goto("/");
  await hydrated(page);
  const badge = page.getByTestId("firing-badge");
  const count = async () => ((await badge.count()) === 0 ? 0 : Number(await badge.textContent()));
  const row = page.getByTestId("home-firing").getByTestId("home-firing-row").filter({ hasText: name });
  await expect(row).toHaveCount(0);

  await send("firing");
  await expect(row).toHaveCount(1, { timeout: 45_000 });
  await expect(row.locator(".badge").first()).toHaveText("P0");
  await expect(badge).toBeVisible();
  const firing = await count();
  expect(firing).toBeGreaterThan(0);

  await send("resolved");
  await expect(row).toHaveCount(0, { timeout: 45_000 });
  await expect(async () => expect(await count()).toBeLessThan(firing)).toPass({ timeout: 45_000 });
  await actx.close();
});
