"""Runs Autobahn's WebSocket cases (through kosoku) against a running River.

    python run.py URL [--jobs N] [--summary FILE] [CASE ...]

URL is River's WebSocket address with `format=raw`, so that every message
comes back as sent (Autobahn's echo):
ws://127.0.0.1:PORT/websocket?name=autobahn-{job}&format=raw. With --jobs N
(default 1), N kosoku processes run the cases side by side, each one case at
a time on its own channel: `{job}` in URL becomes 1..N. Jobs must not share
a channel (a case would receive the other's messages as its echo), so URL
must hold `{job}` when N > 1 — and that is also why kosoku's own
`concurrency` parameter is not used: its cases all go to the one URL.

The jobs take patterns from one queue, largest first (sections 12 and 13
per subsection, then 9, then the small sections), so that they finish close
together. Prints a summary per section (its cases' verdicts, and the seconds
its patterns took, summed over the jobs), each job's busy time, then every
case whose verdict is not OK, NON-STRICT or INFORMATIONAL, and exits 1 if
there is any. CASE patterns default to sections 1-7, 9, 10, 12 and 13.
"""

import argparse
import asyncio
import collections
import ctypes
import multiprocessing
import os
import signal
import sys
import time

from kosoku import FailureError, run_fuzzingclient

# Sections 1-7, 9, 10, 12 and 13, as queued: the slow ones first and in
# pieces (a subsection of 12 or 13 is 18 cases of 1,000 compressed messages
# each), the quick ones last to fill the gaps.
SECTIONS = (
    [f"12.{n}.*" for n in range(1, 6)]
    + [f"13.{n}.*" for n in range(1, 8)]
    + [f"9.{n}.*" for n in range(1, 9)]
    + ["6.*", "5.*", "7.*", "4.*", "3.*", "2.*", "1.*", "10.*"]
)
ACCEPTED = {"OK", "NON-STRICT", "INFORMATIONAL"}


def case_key(case_id):
    return tuple(int(part) for part in case_id.split("."))


def section_of(pattern_or_case):
    return pattern_or_case.split(".")[0]


# --- in each job's process -------------------------------------------------

job_number = None
job_url = None


def start_job(url_template, numbers):
    """A job's process: takes its number, and dies with the parent (Linux)."""
    global job_number, job_url
    try:
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the parent's deadline still ends the run, the job ends with its case
    if os.getppid() == 1:
        os._exit(1)  # the parent is already gone
    job_number = numbers.get()
    job_url = url_template.replace("{job}", str(job_number))


def run_pattern(pattern):
    """One pattern, one case at a time: (pattern, job, seconds, results as dicts)."""
    started = time.monotonic()
    try:
        found = asyncio.run(run_fuzzingclient(job_url, [pattern], None, concurrency=1))
    except FailureError as failure:
        found = failure.results
    results = [
        {
            "case_id": r.case_id,
            "behavior": r.behavior.value,
            "behavior_close": r.behavior_close.value,
            "result": r.result,
            "result_close": r.result_close,
        }
        for r in found
    ]
    return pattern, job_number, time.monotonic() - started, results


# --- in the parent ---------------------------------------------------------


def run(url, patterns, jobs):
    """Every pattern's results, the seconds each section took and each job was busy."""
    results, seconds, busy = [], collections.Counter(), collections.Counter()
    context = multiprocessing.get_context("spawn")
    numbers = context.Queue()
    for number in range(1, jobs + 1):
        numbers.put(number)
    with context.Pool(jobs, initializer=start_job, initargs=(url, numbers)) as pool:
        for pattern, job, elapsed, found in pool.imap_unordered(run_pattern, patterns):
            results += found
            busy[job] += elapsed
            if found:
                seconds[section_of(found[0]["case_id"])] += elapsed
            print(f"  job {job}: {pattern} {len(found)} cases in {elapsed:.1f} s", file=sys.stderr, flush=True)
    return results, seconds, busy


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url", help="River's WebSocket URL; {job} in it becomes the job's number")
    parser.add_argument("cases", nargs="*")
    parser.add_argument("--jobs", type=int, default=1, help="kosoku processes side by side, each on its own channel")
    parser.add_argument("--summary", help="also write the summary (Markdown) to this file")
    args = parser.parse_intermixed_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.jobs > 1 and "{job}" not in args.url:
        parser.error("with --jobs above 1, the URL must hold {job}: jobs sharing a channel see each other's echoes")

    started = time.monotonic()
    results, seconds, busy = run(args.url, args.cases or SECTIONS, args.jobs)
    results.sort(key=lambda r: case_key(r["case_id"]))
    elapsed = time.monotonic() - started

    sections = collections.OrderedDict()
    failing = []
    for result in results:
        verdicts = (result["behavior"], result["behavior_close"])
        counts = sections.setdefault(section_of(result["case_id"]), collections.Counter())
        counts[result["behavior"]] += 1
        if verdicts[0] not in ACCEPTED or verdicts[1] not in ACCEPTED:
            failing.append(result)

    lines = ["| section | cases | verdicts | seconds |", "|---|---|---|---|"]
    for name, counts in sections.items():
        verdicts = ", ".join(f"{verdict} {count}" for verdict, count in sorted(counts.items()))
        lines.append(f"| {name} | {sum(counts.values())} | {verdicts} | {seconds[name]:.0f} |")
    lines.append("")
    for verdict in ("NON-STRICT", "INFORMATIONAL"):
        ids = [r["case_id"] for r in results if verdict in (r["behavior"], r["behavior_close"])]
        if ids:
            lines.append(f"{verdict}: {', '.join(ids)}.")
    lines.append("")
    jobs = ", ".join(f"job {job} {busy[job]:.0f} s" for job in sorted(busy))
    lines.append(
        f"{len(results)} cases in {elapsed:.0f} s ({args.jobs} jobs: {jobs}); "
        f"{len(failing)} not OK, NON-STRICT or INFORMATIONAL."
    )
    summary = "\n".join(lines)
    print(summary)
    for r in failing:
        print(f"FAILED {r['case_id']}: {r['behavior']} / {r['behavior_close']}: {r['result']} {r['result_close']}")
    if args.summary:
        with open(args.summary, "w") as file:
            file.write(summary + "\n")
    if not results:
        print("no case ran", file=sys.stderr)
        return 1
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
