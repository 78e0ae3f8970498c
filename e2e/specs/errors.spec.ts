// Load failures reach the page as text in #error and data-status="error", whatever the cause.
import { expect, test } from '@playwright/test';
import { missingAdapterReason } from './support.ts';

const cases = [
  { name: 'a file that is not GGUF', model: '/models/SHA256SUMS', message: /not a GGUF file/ },
  { name: 'a URL that answers 404', model: '/models/does-not-exist.gguf', message: /HTTP 404/ },
];

for (const c of cases) {
  test(`loading ${c.name} shows the error`, async ({ page, context }) => {
    // Without an adapter the load fails earlier, on the device, with a different (still shown) message.
    const missing = await missingAdapterReason(context);
    await page.goto(`/?${new URLSearchParams({ model: c.model, autorun: '1' })}`);
    const body = page.locator('body');
    await expect(body).toHaveAttribute('data-status', /^(done|error)$/, { timeout: 60_000 });
    await expect(body).toHaveAttribute('data-status', 'error');
    const error = page.locator('#error');
    await expect(error).not.toBeEmpty();
    if (missing === null) await expect(error).toHaveText(c.message);
    await expect(page.locator('#generated-ids')).toBeEmpty();
  });
}
