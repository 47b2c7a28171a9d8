import { ADMIN, EDITOR, VIEWER, expect, hydrated, signIn, test } from "./helpers";

/** `n` ended AI dialogs in the last minutes, `ok` of them successful. */
function dialogs(prefix: string, n: number, ok: number) {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    event_id: `${prefix}-${i}`,
    event_name: "ai_dialog_end",
    user_id: `ai-user-${i}`,
    timestamp: now - 60_000 - i * 1000,
    properties: { dialog_id: `${prefix}-${i}`, success: i < ok, response_ms: 900, answer_source: "generated" },
  }));
}

test("an ops editor changes a threshold: the backtest follows, the save is audited, a viewer cannot edit", async ({
  page,
  browser,
}) => {
  // Data: AI success 70 % in the last hour (an admin creates the ingest key).
  await signIn(page, ADMIN);
  await page.goto("/admin/api-keys");
  await hydrated(page);
  await page.fill("input[name=name]", "e2e alerts");
  await page.click("form button[type=submit]");
  const key = (await page.getByTestId("new-api-key").textContent())!.trim();
  const res = await page.request.post("/api/v1/events", {
    headers: { Authorization: `Bearer ${key}` },
    data: dialogs("e2e-ai", 10, 7),
  });
  expect(res.status()).toBe(200);

  // The editor opens the seeded default rule.
  const ctx = await browser.newContext();
  const ops = await ctx.newPage();
  await signIn(ops, EDITOR);
  await ops.goto("/alerts/rules");
  const table = ops.getByTestId("rules-table");
  await expect(table).toContainText("AI success rate below 90%");
  await table.getByRole("link", { name: "AI success rate below 90%" }).click();
  await expect(ops).toHaveURL(/\/alerts\/rules\/\d+$/);
  await hydrated(ops);

  // 24 h preview: 0.7 < 0.9 in the last hour; with the default `for: 10m` it is only
  // pending at the last (hourly) evaluation, without `for` it fires: a notification.
  await ops.getByRole("button", { name: "24h" }).click();
  const notifications = ops.getByTestId("backtest-notifications");
  await expect(ops.getByTestId("backtest-summary")).toContainText("1 pending spans");
  await expect(notifications).toHaveText("0");
  await ops.fill("input[name=for]", "0");
  await ops.press("input[name=for]", "Tab");
  await expect(notifications).toHaveText("1");
  await expect(ops.locator("[data-testid=backtest] .chart svg")).toBeVisible();

  // A bad value is named next to its field, and nothing is saved.
  await ops.fill("input[name=interval]", "5");
  await ops.press("input[name=interval]", "Tab");
  await ops.getByTestId("save-rule").click();
  await expect(ops.locator("label", { has: ops.locator("input[name=interval]") }).locator(".field-error")).toContainText(
    "not a duration",
  );
  await ops.fill("input[name=interval]", "1m");
  await ops.press("input[name=interval]", "Tab");

  // Lower the threshold to 0.5: the preview updates to no notifications.
  await ops.fill("input[name=threshold]", "0.5");
  await ops.press("input[name=threshold]", "Tab");
  await expect(notifications).toHaveText("0");
  await ops.getByTestId("save-rule").click();
  await expect(ops).toHaveURL(/\/alerts\/rules$/);
  await expect(ops.getByTestId("rules-table")).toContainText("ai_success_rate over 1h < 0.5");

  // The edit is in the audit log with before and after.
  await page.goto("/admin/audit");
  await expect(page.getByTestId("audit-table")).toContainText("rule.update");
  await expect(page.getByTestId("audit-table")).toContainText(EDITOR.email);
  await ctx.close();

  // A viewer reads rules but has no save button.
  const vctx = await browser.newContext();
  const pm = await vctx.newPage();
  await signIn(pm, VIEWER);
  await pm.goto("/alerts/rules");
  await expect(pm.getByTestId("new-rule")).toHaveCount(0);
  await pm.getByTestId("rules-table").getByRole("link", { name: "AI success rate below 90%" }).click();
  await hydrated(pm);
  await expect(pm.getByTestId("save-rule")).toHaveCount(0);
  await vctx.close();
});

test("silences show who and why and can be expired; an admin adds a channel and its test send reports the receiver's answer", async ({
  page,
  browser,
}) => {
  const ctx = await browser.newContext();
  const ops = await ctx.newPage();
  await signIn(ops, EDITOR);
  await ops.goto("/alerts/silences");
  await hydrated(ops);
  // A bad matcher is named next to its field.
  await ops.fill("input[name=matchers]", 'alertname=~"("');
  await ops.fill("input[name=comment]", "deploy");
  await ops.click("form button[type=submit]");
  await expect(ops.locator("label", { has: ops.locator("input[name=matchers]") }).locator(".field-error")).toContainText(
    "bad regular expression",
  );
  await ops.fill("input[name=matchers]", 'alertname="DAU dropped more than 20%"');
  await ops.fill("input[name=duration]", "2h");
  await ops.fill("input[name=comment]", "Release 4.2 moves traffic");
  await ops.click("form button[type=submit]");
  const table = ops.getByTestId("silences-table");
  await expect(table).toContainText("active");
  await expect(table).toContainText(EDITOR.email);
  await expect(table).toContainText("Release 4.2 moves traffic");
  await table.getByRole("button", { name: "Expire" }).first().click();
  await expect(table.locator("tr").nth(1)).toContainText("expired");
  await ctx.close();

  // Channels: admin only; a test send to a receiver that is not there shows why.
  await signIn(page, ADMIN);
  await page.goto("/alerts/notifications");
  await hydrated(page);
  await page.fill("input[name=name]", "e2e-hook");
  await page.selectOption("select[name=kind]", "webhook");
  await page.fill("input[name=url]", "http://127.0.0.1:9/hook");
  await page.click("form:has(input[name=url]) button[type=submit]");
  const channels = page.getByTestId("channels-table");
  await expect(channels).toContainText("e2e-hook");
  await channels.getByRole("button", { name: "Send test" }).click();
  await expect(page.getByTestId("test-result")).toContainText("cannot connect");
  // The routing policy is shown with its default inhibition (P0 mutes P2/P3 of a service).
  await expect(page.locator("textarea[name=policy]")).toHaveValue(/"inhibit"/);
});

test("the routing editor: the SPEC's tree, a route edited in its form, the tester follows; a viewer only reads", async ({
  page,
  browser,
}) => {
  await signIn(page, EDITOR);
  await page.goto("/alerts/notifications");
  await hydrated(page);
  const tree = page.getByTestId("route-tree");
  // Root, the incident route and one route per level.
  await expect(tree.locator("li.route-row")).toHaveCount(6);
  await expect(tree.locator("li[data-path='0.1']")).toContainText('severity="P0"');
  await expect(tree.locator("li[data-path='0.1']")).toContainText("phone");

  // A bad duration is named under its field; nothing is saved.
  const p2 = tree.locator("li[data-path='0.3']");
  await p2.getByRole("button", { name: "Edit" }).click();
  await p2.locator("input[name='route[repeat_interval]']").fill("soon");
  await p2.getByRole("button", { name: "Save" }).click();
  await expect(p2.locator(".field-error")).toContainText("not a duration");
  await p2.locator("input[name='route[repeat_interval]']").fill("2h");
  await p2.getByRole("button", { name: "Save" }).click();
  await expect(tree.locator("li[data-path='0.3'] .route-head")).toContainText("repeat_interval 2h");

  // The tester: a P2 alert goes to the P2 route, repeating every 2 h.
  await page.getByTestId("route-test-labels").fill("alertname=Checkout, severity=P2, service=pay");
  await page.getByRole("button", { name: "Show where it goes" }).click();
  const result = page.getByTestId("route-test-result");
  await expect(result).toContainText("0.3");
  await expect(result).toContainText("repeat 2h");

  // The JSON editor follows the form's save: it shows the new interval and saves
  // against the new version without a reload (no 409).
  await page.getByText("Edit as JSON (inhibition rules)").click();
  const json = page.getByTestId("routing-json");
  await expect(json).toHaveValue(/7200000/);
  const jsonForm = page.locator("form:has([data-testid=routing-json])");
  await jsonForm.getByRole("button", { name: "Save" }).click();
  await expect(jsonForm.locator(".ok")).toHaveText("Saved");
  await expect(jsonForm.locator(".alert-error")).toHaveCount(0);

  // Digests and reminders: the digest moves to 09:30, the weekly review is switched off;
  // both hold after a reload.
  const schedule = page.locator("#schedule");
  await schedule.locator("input[name='s[digest_at]']").fill("09:30");
  await schedule.locator("input[name='s[weekly_on]']").uncheck();
  await schedule.getByRole("button", { name: "Save" }).click();
  await expect(schedule.locator(".ok")).toHaveText("Saved");
  await page.reload();
  await hydrated(page);
  await expect(schedule.locator("input[name='s[digest_at]']")).toHaveValue("09:30");
  await expect(schedule.locator("input[name='s[weekly_on]']")).not.toBeChecked();
  await expect(schedule.locator("input[name='s[postmortems_on]']")).toBeChecked();

  // A viewer sees the tree and may test it, but has no edit buttons.
  const ctx = await browser.newContext();
  const viewer = await ctx.newPage();
  await signIn(viewer, VIEWER);
  await viewer.goto("/alerts/notifications");
  await hydrated(viewer);
  await expect(viewer.getByTestId("route-tree").locator("li.route-row")).toHaveCount(6);
  await expect(viewer.getByTestId("route-tree").getByRole("button", { name: "Edit" })).toHaveCount(0);
  await expect(viewer.locator("#schedule input[name='s[digest_at]']")).toBeDisabled();
  await expect(viewer.locator("#schedule").getByRole("button", { name: "Save" })).toHaveCount(0);
  await ctx.close();
});
