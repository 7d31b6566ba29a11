"""Runs Autobahn's WebSocket cases (through kosoku) against a running River.

    python run.py ws://127.0.0.1:PORT/websocket?name=autobahn&format=raw [--summary FILE] [CASE ...]

One case at a time, one pattern after the other. Prints a summary per
section (with the seconds it took), then every case whose verdict is not OK,
NON-STRICT or INFORMATIONAL, and exits 1 if there is any. CASE patterns
default to sections 1-7, 9, 10, 12 and 13.
"""

import argparse
import asyncio
import collections
import sys
import time

from kosoku import FailureError, run_fuzzingclient

SECTIONS = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*", "12.*", "13.*"]
ACCEPTED = {"OK", "NON-STRICT", "INFORMATIONAL"}


def case_key(case_id):
    return tuple(int(part) for part in case_id.split("."))


async def run(url, patterns):
    """Every pattern's results, and the seconds each section took."""
    results, seconds = [], collections.Counter()
    for pattern in patterns:
        started = time.monotonic()
        try:
            found = await run_fuzzingclient(url, [pattern], None, concurrency=1)
        except FailureError as failure:
            found = failure.results
        results += found
        if found:
            seconds[found[0].case_id.split(".")[0]] += time.monotonic() - started
    return results, seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("cases", nargs="*")
    parser.add_argument("--summary", help="also write the summary (Markdown) to this file")
    args = parser.parse_args()

    started = time.monotonic()
    results, seconds = asyncio.run(run(args.url, args.cases or SECTIONS))
    results.sort(key=lambda r: case_key(r.case_id))
    elapsed = time.monotonic() - started

    sections = collections.OrderedDict()
    failing = []
    for result in results:
        verdicts = (result.behavior.value, result.behavior_close.value)
        section = sections.setdefault(result.case_id.split(".")[0], collections.Counter())
        section[result.behavior.value] += 1
        if verdicts[0] not in ACCEPTED or verdicts[1] not in ACCEPTED:
            failing.append((result.case_id, verdicts, result.result, result.result_close))

    lines = ["| section | cases | verdicts | seconds |", "|---|---|---|---|"]
    for name, counts in sections.items():
        verdicts = ", ".join(f"{verdict} {count}" for verdict, count in sorted(counts.items()))
        lines.append(f"| {name} | {sum(counts.values())} | {verdicts} | {seconds[name]:.0f} |")
    lines.append("")
    for verdict in ("NON-STRICT", "INFORMATIONAL"):
        ids = [r.case_id for r in results if verdict in (r.behavior.value, r.behavior_close.value)]
        if ids:
            lines.append(f"{verdict}: {', '.join(ids)}.")
    lines.append("")
    lines.append(f"{len(results)} cases in {elapsed:.0f} s; {len(failing)} not OK, NON-STRICT or INFORMATIONAL.")
    summary = "\n".join(lines)
    print(summary)
    for case_id, verdicts, result, result_close in failing:
        print(f"FAILED {case_id}: {verdicts[0]} / {verdicts[1]}: {result} {result_close}")
    if args.summary:
        with open(args.summary, "w") as file:
            file.write(summary + "\n")
    if not results:
        print("no case ran", file=sys.stderr)
        return 1
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
