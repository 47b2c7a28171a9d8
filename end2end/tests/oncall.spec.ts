import { ADMIN, EDITOR, VIEWER, expect, hydrated, signIn, test } from "./helpers";

/** `YYYY-MM-DDTHH:MM` in UTC (the e2e accounts' time zone), for datetime-local inputs. */
function local(ms: number) {
  return new Date(ms).toISOString().slice(0, 16);
}

test("an editor builds a schedule, an override changes who is on call now, and acknowledging stops the paging", async ({
  page,
  browser,
}, testInfo) => {
  test.setTimeout(150_000);
  const name = `E2E primary ${testInfo.retry}`;
  await signIn(page, EDITOR);

  // A schedule with one weekly layer: Ed Editor, from last January.
  await page.goto("/oncall/schedules/new/edit");
  await hydrated(page);
  const form = page.getByTestId("schedule-form");
  await form.locator("input[name=name]").fill(name);
  const layer = form.getByTestId("layer").first();
  await layer.locator("input[type=datetime-local]").fill("2026-01-05T09:00");
  await layer.locator("select", { hasText: "Add a person" }).selectOption({ label: "Ed Editor" });
  await expect(layer.locator("ol.participants")).toContainText("Ed Editor");
  await form.locator("button[type=submit]").click();
  await expect(page).toHaveURL(/\/oncall\/schedules\/\d+$/);
  await hydrated(page);
  await expect(page.getByTestId("schedule-now").getByTestId("oncall-name")).toHaveText("Ed Editor");
  await expect(page.getByTestId("tl-final").locator(".tl-bar").first()).toContainText("Ed Editor");

  // The home page names him.
  await page.goto("/");
  await hydrated(page);
  const homeRow = page.getByTestId("home-oncall-row").filter({ hasText: name });
  await expect(homeRow.getByTestId("oncall-name")).toHaveText("Ed Editor");

  // An override: Pat Viewer is on call from a few minutes ago for two hours.
  await homeRow.getByRole("link", { name }).click();
  await expect(page).toHaveURL(/\/oncall\/schedules\/\d+$/);
  const scheduleUrl = page.url();
  await hydrated(page);
  const ov = page.getByTestId("override-form");
  // An end before the start is named beside the field; nothing is added.
  await ov.locator("select[name=user]").selectOption({ label: "Pat Viewer" });
  await ov.locator("input[name=start]").fill(local(Date.now() - 5 * 60_000));
  await ov.locator("input[name=end]").fill(local(Date.now() - 10 * 60_000));
  await ov.locator("button[type=submit]").click();
  await expect(ov.locator("label", { has: page.locator("input[name=end]") }).locator(".field-error")).toContainText(
    "after the start",
  );
  await ov.locator("input[name=end]").fill(local(Date.now() + 2 * 3_600_000));
  await ov.locator("input[name=note]").fill("Ed at the dentist");
  await ov.locator("button[type=submit]").click();
  await expect(page.getByTestId("overrides")).toContainText("Ed at the dentist");
  await expect(page.getByTestId("schedule-now").getByTestId("oncall-name")).toHaveText("Pat Viewer");
  await expect(page.getByTestId("tl-overrides").locator(".tl-bar.override")).toHaveCount(1);
  await page.goto("/");
  await hydrated(page);
  await expect(
    page.getByTestId("home-oncall-row").filter({ hasText: name }).getByTestId("oncall-name"),
  ).toHaveText("Pat Viewer");

  // A viewer sees the schedule but cannot add overrides.
  const vctx = await browser.newContext();
  const pm = await vctx.newPage();
  await signIn(pm, VIEWER);
  await pm.goto(scheduleUrl);
  await hydrated(pm);
  await expect(pm.getByTestId("schedule-now").getByTestId("oncall-name")).toHaveText("Pat Viewer");
  await expect(pm.getByTestId("override-form")).toHaveCount(0);
  await vctx.close();

  // Paging: a policy that pages this schedule, a rule routed to it that fires at once.
  await page.goto("/oncall/policies/new");
  await hydrated(page);
  const pf = page.getByTestId("policy-form");
  await pf.locator("input[name=name]").fill(`E2E paging ${testInfo.retry}`);
  await pf.getByTestId("step").first().locator("label.check", { hasText: name }).locator("input").check();
  await pf.locator("button[type=submit]").click();
  await expect(page).toHaveURL(/\/oncall$/);

  const actx = await browser.newContext();
  const admin = await actx.newPage();
  await signIn(admin, ADMIN);
  await admin.goto("/admin/api-keys");
  await hydrated(admin);
  await admin.fill("input[name=name]", `e2e oncall ${testInfo.retry}`);
  await admin.click("form button[type=submit]");
  const key = (await admin.getByTestId("new-api-key").textContent())!.trim();
  const now = Date.now();
  const events = Array.from({ length: 10 }, (_, i) => ({
    event_id: `e2e-oncall-${testInfo.retry}-${i}`,
    event_name: "ai_dialog_end",
    user_id: `oncall-user-${i}`,
    timestamp: now - 90_000 - i * 1000,
    properties: { dialog_id: `e2e-oncall-${testInfo.retry}-${i}`, success: i < 2, response_ms: 900, answer_source: "generated" },
  }));
  const res = await admin.request.post("/api/v1/events", { headers: { Authorization: `Bearer ${key}` }, data: events });
  expect(res.status()).toBe(200);
  await actx.close();

  await page.goto("/alerts/rules/new");
  await hydrated(page);
  for (const [field, value] of [
    ["name", `E2E paging rule ${testInfo.retry}`],
    ["threshold", "0.5"],
    ["for", "0"],
    ["interval", "1m"],
  ]) {
    await page.fill(`input[name=${field}]`, value);
    await page.press(`input[name=${field}]`, "Tab");
  }
  await page.selectOption("select[name=severity]", "P0");
  const policySelect = page.locator("select[name=escalation_policy]");
  await expect(policySelect.locator("option", { hasText: `E2E paging ${testInfo.retry}` })).toHaveCount(1);
  await policySelect.selectOption({ label: `E2E paging ${testInfo.retry}` });
  await page.getByTestId("save-rule").click();
  await expect(page).toHaveURL(/\/alerts\/rules$/);
  // The navigation's firing badge turns up by itself (it asks every 30 s): no reload.
  await expect(page.getByTestId("firing-badge")).toBeVisible({ timeout: 45_000 });

  // The engine (5 s ticks) evaluates the rule, starts the escalation and pages Pat (on call
  // by the override). The home page shows it paging; acknowledging stops it.
  await page.goto("/oncall");
  await hydrated(page);
  const esc = page.getByTestId("escalations");
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(esc).toContainText(`E2E paging rule ${testInfo.retry}`, { timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  const row = esc.locator("tr", { hasText: `E2E paging rule ${testInfo.retry}` });
  // One step, no repeat: everyone is paged at once, and it waits for an acknowledgement.
  await expect(row).toContainText("not acknowledged");
  await expect(row).toContainText("Pat Viewer");
  // The Firing now page offers "Acknowledge" beside the alert too.
  await page.goto("/alerts");
  await hydrated(page);
  await expect(
    page.getByTestId("active-alerts").locator("tr", { hasText: `E2E paging rule ${testInfo.retry}` }).getByTestId("ack"),
  ).toHaveCount(1);
  // The home page lists it under "Paging now".
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByTestId("home-oncall")).toContainText(`E2E paging rule ${testInfo.retry}`);
  // …and in the "Firing alerts" card, paging and not acknowledged yet.
  const homeFiring = page.getByTestId("home-firing").getByTestId("home-firing-row").filter({ hasText: `E2E paging rule ${testInfo.retry}` });
  await expect(homeFiring).toContainText("paging");
  await page.goto("/oncall");
  await hydrated(page);
  await row.getByTestId("ack").click();
  await expect(row).toContainText("acknowledged");
  await expect(row).toContainText(EDITOR.email);
  await page.reload();
  await hydrated(page);
  await expect(esc.locator("tr", { hasText: `E2E paging rule ${testInfo.retry}` })).toContainText("acknowledged");
  await expect(esc.locator("tr", { hasText: `E2E paging rule ${testInfo.retry}` }).getByTestId("ack")).toHaveCount(0);
  // The home card and the firing page say who answered.
  await page.goto("/");
  await hydrated(page);
  await expect(homeFiring).toContainText("acknowledged");
  await page.goto("/alerts");
  await hydrated(page);
  const firingRow = page.getByTestId("active-alerts").locator("tr", { hasText: `E2E paging rule ${testInfo.retry}` });
  await expect(firingRow.getByTestId("acked")).toHaveCount(1);
  await expect(firingRow).toContainText(EDITOR.email);

  // Declaring an incident with that policy pages through it; after a reload (server
  // rendered, then hydrated) the incident shows who was paged.
  await page.goto("/incidents/new");
  await hydrated(page);
  await page.fill("input[name=title]", `E2E paged incident ${testInfo.retry}`);
  await page.press("input[name=title]", "Tab");
  await page.getByTestId("declare-policy").selectOption({ label: `E2E paging ${testInfo.retry}` });
  await page.getByTestId("declare-submit").click();
  await page.waitForURL(/\/incidents\/INC-/);
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId("incident-paging")).toContainText("Pat Viewer", { timeout: 2_000 });
  }).toPass({ timeout: 40_000 });

  // Page more: one person (Ed Editor), through the channels of the incident's policy.
  await page.getByTestId("page-more-target").selectOption({ label: "Ed Editor" });
  await page.getByTestId("page-more").click();
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId("timeline")).toContainText("Paging Ed Editor through the channels of", { timeout: 2_000 });
    await expect(page.getByTestId("incident-paging")).toContainText("Ed Editor", { timeout: 2_000 });
  }).toPass({ timeout: 40_000 });
});
