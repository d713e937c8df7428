import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const INSTALL_HINT = 'install it with: sudo apt-get update && sudo apt-get install -y chromium';

/**
 * Browser tests run when Debian's Chromium is installed. Without it they are reported as skipped
 * (with the install command) on a developer's machine, and fail in CI, where a skipped browser test
 * must never pass for a played stream.
 */
export function chromiumStatus(): 'available' | 'missing-in-ci' | 'missing' {
  if (existsSync(CHROMIUM_PATH)) return 'available';
  return process.env.CI ? 'missing-in-ci' : 'missing';
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}
