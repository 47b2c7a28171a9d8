// Screenshots of the routing editor (issue #16): the default tree with the demo's channels,
// one route's form open, and the tester's answer — English and Chinese, desktop and phone
// width. Usage: node shots-routing.mjs <baseURL> <outDir>
// Expects the e2e admin account and `vigil demo` (channels and the paging policy).
import { hydrated, launch, signedIn, switchTo } from "./shots-common.mjs";
const [base, out] = [process.argv[2], process.argv[3]];
const browser = await launch();
for (const size of [[1440, 900], [390, 844]]) {
  for (const lang of ["en", "zh-CN"]) {
    const { ctx, page, tag } = await signedIn(browser, base, size, lang, "e2e-admin@example.com", "e2e-admin-password");
    await page.goto(base + "/alerts/notifications#routing");
    await hydrated(page);
    await switchTo(page, lang);
    const tree = page.getByTestId("route-tree");
    await tree.locator("li[data-path='0.1'] .route-actions button").first().click();
    await page.getByTestId("route-test-labels").fill('alertname="Checkout errors", severity=P0, service=pay');
    await page.locator("form.tester button[type=submit]").click();
    await page.getByTestId("route-test-result").locator("li").first().waitFor();
    // An element screenshot scrolls: keep the sticky top bar out of the picture.
    await page.addStyleTag({ content: ".topbar { position: static !important; }" });
    await page.locator("#routing").scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    await page.locator("#routing").screenshot({ path: `${out}/routing-editor-${tag}.png` });
    await ctx.close();
  }
}
await browser.close();
