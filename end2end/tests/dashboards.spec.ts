import { ADMIN, VIEWER, expect, hydrated, signIn, test } from "./helpers";

function events(prefix: string, users: string[]) {
  const now = Date.now();
  return users.map((u, i) => ({
    event_id: `${prefix}-${i}`,
    event_name: "user_login_success",
    user_id: u,
    timestamp: now - 1000 * (i + 1),
    platform: "web",
  }));
}

test("events sent with an ingest key move WAU on a viewer's dashboard", async ({ page, request, browser }) => {
  // An admin creates an ingest key in the UI.
  await signIn(page, ADMIN);
  await page.goto("/admin/api-keys");
  await hydrated(page);
  await page.fill("input[name=name]", "e2e dashboards");
  await page.click("form button[type=submit]");
  const key = (await page.getByTestId("new-api-key").textContent())!.trim();
  expect(key).toMatch(/^vgl_/);

  const post = (body: unknown) =>
    request.post("/api/v1/events", { headers: { Authorization: `Bearer ${key}` }, data: body });

  // A viewer (product manager) opens the dashboard; other specs may have sent events
  // already, so WAU is compared with what it was before.
  const ctx = await browser.newContext();
  const pm = await ctx.newPage();
  await signIn(pm, VIEWER);
  const dashboard = "/dashboards?tab=user&range=7d&g=day";
  await pm.goto(dashboard);
  const wau = pm.locator('[data-kpi="wau"] .kpi-value');
  const before = (await wau.count()) > 0 ? Number(await wau.textContent()) : 0;

  // Unique ids per run, so that a retry is not all duplicates.
  const run = `${Date.now()}`;
  const u = (names: string[]) => names.map((n) => `${n}-${run}`);
  let res = await post(events(`e2e-a-${run}`, u(["pm-1", "pm-2", "pm-3"])));
  expect(res.status()).toBe(200);
  expect(await res.json()).toMatchObject({ accepted: 3, duplicates: 0, rejected: [] });

  await pm.goto(dashboard);
  await expect(wau).toHaveText(String(before + 3));

  // Two more users, one duplicate event, one bad event.
  res = await post([
    ...events(`e2e-b-${run}`, u(["pm-4", "pm-5"])),
    events(`e2e-a-${run}`, u(["pm-1"]))[0],
    { event_id: `bad-${run}`, event_name: "Bad", user_id: "x", timestamp: Date.now() },
  ]);
  const body = await res.json();
  expect(body.accepted).toBe(2);
  expect(body.duplicates).toBe(1);
  expect(body.rejected[0].error).toMatch(/^event_name:/);

  await pm.reload();
  await expect(wau).toHaveText(String(before + 5));
  // The chart is server-rendered SVG.
  await expect(pm.locator(".chart svg").first()).toBeVisible();

  // The URL holds the state: switching tabs keeps the range.
  await pm.getByRole("link", { name: "Business" }).click();
  await expect(pm).toHaveURL(/tab=business&range=7d/);
  await ctx.close();
});
