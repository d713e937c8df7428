#!/usr/bin/env node
// The command runs the compiled code in dist/; a clone has it once `npm ci` (its prepare step builds)
// or `npm run build` has run.
let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (error) {
  const missing = error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/dist/');
  console.error(
    missing
      ? 'streamgate: the compiled code (dist/) is missing; run "npm run build" in the streamgate checkout'
      : `streamgate: cannot load: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(70);
}

main(process.argv.slice(2)).then(
  (code) => {
    // A failed command ends now, whatever it left open: a start-up failure must never hang.
    if (code !== 0) process.exit(code);
    process.exitCode = code;
  },
  (error) => {
    console.error(`streamgate: internal error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(70);
  },
);
