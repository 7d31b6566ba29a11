"""Runs Autobahn's WebSocket cases (through kosoku) against a running River.

    python run.py ws://127.0.0.1:PORT/websocket?name=autobahn&format=raw [--summary FILE] [CASE ...]

One case at a time. Prints a summary per section, then every case whose
verdict is not OK, NON-STRICT or INFORMATIONAL, and exits 1 if there is any.
CASE patterns default to sections 1-7, 9, 10, 12 and 13.
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


async def run(url, cases):
    try:
        return await run_fuzzingclient(url, cases, None, concurrency=1)
    except FailureError as failure:
        return failure.results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("cases", nargs="*")
    parser.add_argument("--summary", help="also write the summary (Markdown) to this file")
    args = parser.parse_args()

    started = time.monotonic()
    results = sorted(asyncio.run(run(args.url, args.cases or SECTIONS)), key=lambda r: case_key(r.case_id))
    elapsed = time.monotonic() - started

    sections = collections.OrderedDict()
    failing = []
    for result in results:
        verdicts = (result.behavior.value, result.behavior_close.value)
        section = sections.setdefault(result.case_id.split(".")[0], collections.Counter())
        section[result.behavior.value] += 1
        if verdicts[0] not in ACCEPTED or verdicts[1] not in ACCEPTED:
            failing.append((result.case_id, verdicts, result.result, result.result_close))

    lines = ["| section | cases | verdicts |", "|---|---|---|"]
    for name, counts in sections.items():
        verdicts = ", ".join(f"{verdict} {count}" for verdict, count in sorted(counts.items()))
        lines.append(f"| {name} | {sum(counts.values())} | {verdicts} |")
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
