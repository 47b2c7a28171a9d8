// Screenshots of the response loop's pages (issue #16): the home page with the "Firing
// alerts" card and the navigation badge, the firing page (every source in one table), and
// an incident declared with a paging policy showing who was paged — English and Chinese,
// desktop and phone width. Usage: node shots-firing.mjs <baseURL> <outDir>
// Expects the e2e admin account, the demo data (`vigil demo`: schedules and a policy) and
// at least one firing alert.
import { hydrated, launch, signedIn, switchTo } from "./shots-common.mjs";
const [base, out] = [process.argv[2], process.argv[3]];
const browser = await launch();
let incident = null;
for (const size of [[1440, 900], [390, 844]]) {
  for (const lang of ["en", "zh-CN"]) {
    const { ctx, page, tag } = await signedIn(browser, base, size, lang, "e2e-admin@example.com", "e2e-admin-password");
    if (!incident) {
      // Declare a P1 incident paged through the demo's policy; the engine pages at once.
      await page.goto(base + "/incidents/new");
      await hydrated(page);
      await page.fill("input[name=title]", "Checkout API answers 502 for 12% of requests");
      await page.selectOption("select[name=severity]", "P1");
      const policy = page.getByTestId("declare-policy");
      await page.waitForFunction(() => document.querySelectorAll("[data-testid=declare-policy] option").length > 1);
      await policy.selectOption({ index: 1 });
      await page.getByTestId("declare-submit").click();
      await page.waitForURL(/\/incidents\/INC-/);
      incident = new URL(page.url()).pathname;
      await page.waitForTimeout(12_000);
    }
    for (const [path, name] of [["/", "home-firing"], ["/alerts", "alerts-firing"], [incident, "incident-paging"]]) {
      await page.goto(base + path);
      await hydrated(page);
      await switchTo(page, lang);
      await page.waitForTimeout(500);
      await page.screenshot({ path: `${out}/${name}-${tag}.png`, fullPage: true });
    }
    await ctx.close();
  }
}
await browser.close();
