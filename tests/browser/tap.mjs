// TAP output for the browser drivers (dashboard.mjs, objects.mjs): one
// "ok - NAME" or "not ok - NAME" line per check, the reasons of a failed
// one as "# ..." lines below it (tests/integration/browser.sh reads them).
let failures = 0;

/** Prints the line of check `name`, failed when `problems` is not empty. */
export function report(name, problems) {
  if (problems.length === 0) {
    console.log(`ok - ${name}`);
    return;
  }
  failures++;
  console.log(`not ok - ${name}`);
  for (const p of problems.slice(0, 25)) console.log(`# ${p}`);
  if (problems.length > 25) console.log(`# ... and ${problems.length - 25} more`);
}

/** Exits 1 if any check failed, else 0. */
export function exitWithResult() {
  process.exit(failures ? 1 : 0);
}
