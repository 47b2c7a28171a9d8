import { ADMIN, EDITOR, VIEWER, apiKey, expect, hydrated, sendAlertmanager, signIn, test } from "./helpers";

// The response loop in one browser session (issue #16): an alert from Alertmanager goes
// through the routing tree to an escalation policy that pages the on-call of a schedule;
// a PM's open home page shows it firing; the on-call acknowledges it on the Firing page
// and opens an incident from it, which shows the alert, who was paged and the deploy just
// before; the incident is resolved, its postmortem published, and it is closed; the alert
// resolves and the PM's home card and badge clear, all without a reload.
test("the response loop: Alertmanager alert → routed → pages the on-call → acknowledged → incident with the deploy → resolved → postmortem published → closed", async ({
  page,
  browser,
}, testInfo) => {
  test.setTimeout(180_000);
  const tag = `${testInfo.retry}-${Date.now() % 100000}`;
  const alertname = `E2E LoopCheckout ${tag}`;
  const service = `loop-checkout-${tag}`;

  // Keys as Alertmanager and the deploy script hold them.
  const actx = await browser.newContext();
  const admin = await actx.newPage();
  await signIn(admin, ADMIN);
  const ingestKey = await apiKey(admin, `e2e loop alertmanager ${tag}`, "ingest");
  const changesKey = await apiKey(admin, `e2e loop deploys ${tag}`, "changes");

  // The on-call set-up, as an editor does it: a schedule with Ed Editor on call, a policy
  // paging it, and that policy on the routing tree's P1 route.
  await signIn(page, EDITOR);
  const schedule = `E2E loop primary ${tag}`;
  await page.goto("/oncall/schedules/new/edit");
  await hydrated(page);
  const sform = page.getByTestId("schedule-form");
  await sform.locator("input[name=name]").fill(schedule);
  const layer = sform.getByTestId("layer").first();
  await layer.locator("input[type=datetime-local]").fill("2026-01-05T09:00");
  await layer.locator("select", { hasText: "Add a person" }).selectOption({ label: "Ed Editor" });
  await sform.locator("button[type=submit]").click();
  await expect(page).toHaveURL(/\/oncall\/schedules\/\d+$/);
  const policy = `E2E loop paging ${tag}`;
  await page.goto("/oncall/policies/new");
  await hydrated(page);
  const pf = page.getByTestId("policy-form");
  await pf.locator("input[name=name]").fill(policy);
  await pf.getByTestId("step").first().locator("label.check", { hasText: schedule }).locator("input").check();
  await pf.locator("button[type=submit]").click();
  await expect(page).toHaveURL(/\/oncall$/);

  await page.goto("/alerts/notifications");
  await hydrated(page);
  const tree = page.getByTestId("route-tree");
  const p1 = tree.locator("li[data-path='0.2']");
  await expect(p1).toContainText('severity="P1"');
  await p1.getByRole("button", { name: "Edit" }).click();
  await p1.locator("select[name='route[escalation_policy_id]']").selectOption({ label: policy });
  await p1.getByRole("button", { name: "Save" }).click();
  await expect(tree.locator("li[data-path='0.2'] .route-head")).toContainText(policy);
  // The tester agrees: a P1 of this service reaches the P1 route and its policy.
  await page.getByTestId("route-test-labels").fill(`alertname="${alertname}", severity=P1, service=${service}`);
  await page.getByRole("button", { name: "Show where it goes" }).click();
  await expect(page.getByTestId("route-test-result")).toContainText(policy);

  // The deploy script records a deploy of the service, 20 minutes ago.
  const deploy = await admin.request.post("/api/v1/changes", {
    headers: { Authorization: `Bearer ${changesKey}` },
    data: { service, kind: "deploy", version: "v9.1.0", at_ms: Date.now() - 20 * 60_000, description: "pool size 0" },
  });
  expect(deploy.status()).toBe(201);

  // A PM keeps the home page open; nothing reloads it from here on.
  const vctx = await browser.newContext();
  const pm = await vctx.newPage();
  await signIn(pm, VIEWER);
  await pm.goto("/");
  await hydrated(pm);
  const badge = pm.getByTestId("firing-badge");
  const count = async () => ((await badge.count()) === 0 ? 0 : Number(await badge.textContent()));
  const homeRow = pm.getByTestId("home-firing").getByTestId("home-firing-row").filter({ hasText: alertname });
  await expect(homeRow).toHaveCount(0);
  const before = await count();

  const send = (status: "firing" | "resolved") =>
    sendAlertmanager(admin, ingestKey, status, {
      fingerprint: `e2e-loop-${tag}`,
      labels: { alertname, severity: "P1", service },
      summary: "checkout answers 503",
    });
  await send("firing");

  // The PM sees it arrive: the home card lists it as a P1, the badge counts it.
  await expect(homeRow).toHaveCount(1, { timeout: 45_000 });
  await expect(homeRow.locator(".badge").first()).toHaveText("P1");
  await expect(async () => expect(await count()).toBeGreaterThan(before)).toPass({ timeout: 45_000 });

  // The engine routes it and pages Ed (on call on the policy's schedule).
  await page.goto("/oncall");
  await hydrated(page);
  const esc = page.getByTestId("escalations").locator("tr", { hasText: alertname });
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(esc).toContainText("Ed Editor", { timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  await expect(esc).toContainText(policy);
  await expect(esc).toContainText("not acknowledged");

  // Ed acknowledges on the Firing page and declares an incident from the alert.
  await page.goto("/alerts");
  await hydrated(page);
  const firing = page.getByTestId("active-alerts").locator("tr", { hasText: alertname });
  await expect(firing).toContainText(/paging/i);
  await firing.getByTestId("ack").click();
  await expect(firing.getByTestId("acked")).toHaveCount(1);
  await expect(firing).toContainText(EDITOR.email);
  await firing.getByTestId("incident-from-alert").click();
  await page.waitForURL(/\/incidents\/INC-/);
  await hydrated(page);
  const code = page.url().match(/INC-\d{8}-\d{3}/)![0];
  await expect(page.getByTestId("incident-title")).toContainText(alertname);
  await expect(page.getByTestId("incident-status")).toContainText("Detecting");
  // Who was paged for the alert, and acknowledged; the deploy 20 minutes before.
  await expect(page.getByTestId("incident-paging")).toContainText("Ed Editor");
  await expect(page.getByTestId("incident-changes")).toContainText("v9.1.0");
  await expect(page.getByTestId("timeline")).toContainText("v9.1.0");
  // The commander is the on-call of the policy's first schedule.
  await expect(page.getByTestId("roles-panel")).toContainText("Ed Editor");

  // Walk it to resolved (inside the P1 monitoring period, with a reason).
  const step = async (to: string, label: string) => {
    await page.getByTestId(`to-${to}`).click();
    await expect(page.getByTestId("status-bar").locator(".step.current")).toHaveText(label);
  };
  await step("investigating", "Investigating");
  await step("fixing", "Fixing");
  await step("monitoring", "Monitoring");
  await page.getByTestId("to-resolved").click();
  await expect(page.getByTestId("status-bar").locator(".field-error")).toContainText("at least");
  await page.fill("input[name=override_reason]", "Rolled back v9.1.0; error rate 0 for 30 min");
  await step("resolved", "Resolved");

  // The postmortem: causes, one action item, review, publish.
  await page.getByTestId("postmortem-link").click();
  await expect(page).toHaveURL(/\/postmortem$/);
  await hydrated(page);
  await page.fill("input[name=problem]", "Checkout answered 503");
  await page.fill("textarea[name=direct_cause]", "v9.1.0 set the payment client's pool size to 0");
  await page.getByTestId("why-1").fill("The release changed a default");
  await page.getByTestId("pm-review").click();
  await expect(page.getByTestId("pm-status")).toHaveText("In review");
  await page.selectOption("select[name=action_kind]", "immediate");
  await page.fill("input[name=action_description]", "Validate pool size in CI");
  await page.getByTestId("add-action").click();
  await expect(page.getByTestId("action-table")).toContainText("Validate pool size in CI");
  await page.getByTestId("pm-publish").click();
  await expect(page.getByTestId("pm-status")).toHaveText("Published");

  // Closed.
  await page.goto(`/incidents/${code}`);
  await hydrated(page);
  await step("closed", "Closed");
  await expect(page.getByTestId("timeline")).toContainText("Postmortem in_review → published");

  // The alert resolves: the PM's home card and badge clear by themselves.
  await send("resolved");
  await expect(homeRow).toHaveCount(0, { timeout: 45_000 });
  await expect(async () => expect(await count()).toBeLessThanOrEqual(before)).toPass({ timeout: 45_000 });
  // The page ended with the resolution: the escalation is over.
  await page.goto("/oncall");
  await hydrated(page);
  await expect(page.getByTestId("escalations").locator("tr", { hasText: alertname })).not.toContainText(
    "not acknowledged",
  );
  await vctx.close();
  await actx.close();
});
