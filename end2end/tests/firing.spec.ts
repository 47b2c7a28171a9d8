import { ADMIN, VIEWER, expect, hydrated, signIn, test } from "./helpers";

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
  await admin.goto("/admin/api-keys");
  await hydrated(admin);
  await admin.fill("input[name=name]", `e2e alertmanager ${testInfo.retry}`);
  await admin.click("form button[type=submit]");
  const key = (await admin.getByTestId("new-api-key").textContent())!.trim();
  const send = async (status: "firing" | "resolved") => {
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const endsAt = status === "firing" ? "0001-01-01T00:00:00Z" : new Date().toISOString();
    const res = await admin.request.post("/api/v1/integrations/alertmanager", {
      headers: { Authorization: `Bearer ${key}` },
      data: {
        version: "4",
        status,
        receiver: "vigil",
        alerts: [
          {
            status,
            fingerprint: `e2e-${testInfo.retry}-${name.length}`,
            labels: { alertname: name, severity: "critical", instance: "db1" },
            annotations: { summary: "disk 97% full" },
            startsAt,
            endsAt,
          },
        ],
      },
    });
    expect(res.status()).toBe(200);
  };

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
